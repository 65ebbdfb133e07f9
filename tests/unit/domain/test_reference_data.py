import pytest

from chalicelib.domain import reference_data
from chalicelib.domain.market_errors import MarketDataError, ReferenceDataError
from chalicelib.domain.reference_data import (
    DATA_DIR,
    as_decimal,
    as_positive_int,
    as_time,
    check_document,
    field,
    load_data_file,
)

FILES = [
    "holidays",
    "sessions",
    "expiry_rules",
    "lot_sizes",
    "freeze_limits",
    "strike_steps",
    "protection_slabs",
    "broker_support",
]


@pytest.mark.parametrize("name", FILES)
def test_every_data_file_has_a_source_and_dated_entries(name):
    document = load_data_file(name)
    assert len(document["source"]) > 40
    for entry in document["entries"]:
        assert "effective_from" in entry


def test_data_files_on_disk_are_exactly_the_documented_set():
    assert sorted(p.stem for p in DATA_DIR.glob("*.json")) == sorted(FILES)


def test_missing_or_unreadable_file_raises_reference_data_error():
    with pytest.raises(ReferenceDataError, match="cannot read"):
        load_data_file("no_such_file")


@pytest.mark.parametrize(
    "document",
    [[], {"entries": [{}]}, {"source": " ", "entries": [{}]}, {"source": "x", "entries": []}],
)
def test_check_document_rejects_malformed_tops(document):
    with pytest.raises(ReferenceDataError):
        check_document(document, "t")


def test_converters_reject_floats_bools_and_nonsense():
    with pytest.raises(ReferenceDataError):
        field({"x": 1.5}, "x", "w", as_decimal)
    with pytest.raises(ReferenceDataError):
        field({"x": "NaN"}, "x", "w", as_decimal)
    with pytest.raises(ReferenceDataError):
        field({"x": True}, "x", "w", as_positive_int)
    with pytest.raises(ReferenceDataError):
        field({"x": 0}, "x", "w", as_positive_int)
    with pytest.raises(ReferenceDataError):
        field({"x": 915}, "x", "w", as_time)
    with pytest.raises(ReferenceDataError, match="missing 'y'"):
        field({"x": 1}, "y", "w", as_positive_int)
    assert str(field({"x": "0.05"}, "x", "w", as_decimal)) == "0.05"


def test_in_force_before_first_entry_is_a_market_data_error():
    from dataclasses import dataclass
    from datetime import date

    @dataclass
    class Item:
        effective_from: date

    items = [Item(date(2025, 1, 1)), Item(date(2026, 1, 1))]
    assert reference_data.in_force(items, date(2025, 6, 1), "x") is items[0]
    assert reference_data.in_force(items, date(2026, 1, 1), "x") is items[1]
    with pytest.raises(MarketDataError):
        reference_data.in_force(items, date(2024, 12, 31), "x")


def test_date_and_underlying_map_converters_reject_wrong_types():
    from chalicelib.domain.reference_data import as_date, as_underlying_map

    with pytest.raises(ReferenceDataError):
        field({"x": 20250101}, "x", "w", as_date)
    with pytest.raises(ReferenceDataError):
        field({"x": [1]}, "x", "w", as_underlying_map(as_positive_int))


def test_error_repr_and_code_override():
    error = MarketDataError("boom", field="spot", code="custom")
    assert error.code == "custom"
    assert repr(error) == "MarketDataError(code='custom', field='spot', 'boom')"
    assert MarketDataError("x").code == "market_data"
