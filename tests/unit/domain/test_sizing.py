from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.contracts import contract_spec
from chalicelib.domain.market_errors import SizingError
from chalicelib.domain.sizing import (
    bursts,
    effective_lots,
    order_slices,
    slice_quantity,
    units_for,
)
from chalicelib.domain.underlying import Underlying as U

ON = date(2026, 11, 25)


def test_thirty_lots_of_nifty_slice_into_1755_and_195():
    spec = contract_spec(U.NIFTY, date(2026, 12, 1), ON)
    assert units_for(30, 1, spec.lot_size) == 1950
    assert order_slices(30, 1, spec) == [1755, 195]
    assert slice_quantity(1950, 65, 1800) == [1755, 195]


def test_exact_multiples_have_no_remainder_slice():
    assert slice_quantity(1755 * 2, 65, 1800) == [1755, 1755]
    assert slice_quantity(65, 65, 1800) == [65]


def test_fractional_multiplier_rounds_down_never_up():
    assert effective_lots(3, Decimal("0.5")) == 1
    assert effective_lots(3, "1.99") == 5
    assert effective_lots(4, Decimal("0.25")) == 1
    assert units_for(7, Decimal("1.5"), 65) == 10 * 65


def test_zero_lots_after_multiplier_is_a_clear_error():
    with pytest.raises(SizingError) as info:
        effective_lots(1, Decimal("0.5"))
    assert "less than one whole lot" in info.value.message
    assert info.value.field == "multiplier"


@pytest.mark.parametrize(
    ("lots", "multiplier"), [(0, 1), (-1, 1), (True, 1), (1.5, 1), (1, 0), (1, "-1")]
)
def test_bad_lots_or_multiplier(lots, multiplier):
    with pytest.raises(SizingError):
        effective_lots(lots, multiplier)


def test_slicing_rejects_bad_inputs():
    with pytest.raises(SizingError):
        slice_quantity(100, 65, 1800)  # not whole lots
    with pytest.raises(SizingError):
        slice_quantity(0, 65, 1800)
    with pytest.raises(SizingError):
        slice_quantity(130, 65, 60)  # freeze below one lot
    with pytest.raises(SizingError):
        units_for(1, 1, 0)


def test_bursts_keep_at_most_ten_orders():
    slices = slice_quantity(1755 * 23 + 65, 65, 1800)
    groups = bursts(slices)
    assert [len(g) for g in groups] == [10, 10, 4]
    assert sum(map(sum, groups)) == sum(slices)
    with pytest.raises(SizingError):
        bursts(slices, 0)


@given(
    lots=st.integers(min_value=1, max_value=500),
    multiplier=st.decimals(min_value="0.01", max_value="20", places=2),
    lot_size=st.sampled_from([15, 20, 25, 30, 35, 60, 65, 75, 120, 140]),
    freeze=st.integers(min_value=140, max_value=5000),
)
def test_sizing_invariants(lots, multiplier, lot_size, freeze):
    try:
        whole = effective_lots(lots, multiplier)
    except SizingError:
        assert lots * multiplier < 1
        return
    assert whole <= lots * multiplier < whole + 1  # never rounds up, loses < 1 lot
    units = units_for(lots, multiplier, lot_size)
    assert units == whole * lot_size
    slices = slice_quantity(units, lot_size, freeze)
    assert sum(slices) == units
    assert all(0 < s <= freeze and s % lot_size == 0 for s in slices)
    assert len(slices) == -(-whole // (freeze // lot_size))  # minimal number of orders
    assert slices == sorted(slices, reverse=True)
