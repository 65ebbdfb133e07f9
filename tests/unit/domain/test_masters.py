import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from chalicelib.domain.instrument import Broker, ContractKey, DuplicateContract, InstrumentMaster
from chalicelib.domain.masters import (
    MasterHolder,
    MasterParseError,
    parse_angel_master,
    parse_dhan_master,
    parse_fyers_master,
    parse_kite_master,
    parse_noren_master,
    parse_upstox_master,
)
from chalicelib.domain.underlying import Exchange, OptionType
from chalicelib.domain.underlying import Underlying as U

FIXTURES = Path(__file__).parent / "fixtures"
PARSERS = {
    Broker.KITE: (parse_kite_master, "kite_instruments.csv"),
    Broker.ANGEL: (parse_angel_master, "angel_scrip_master.json"),
    Broker.UPSTOX: (parse_upstox_master, "upstox_complete.json"),
    Broker.FYERS: (parse_fyers_master, "fyers_nse_fo.csv"),
    Broker.DHAN: (parse_dhan_master, "dhan_scrip_master.csv"),
    Broker.NOREN: (parse_noren_master, "noren_symbols.txt"),
}
SERIES = [
    (U.NIFTY, date(2026, 12, 1), ["23950", "24000"], 65),
    (U.NIFTY, date(2026, 12, 29), ["24000"], 65),
    (U.BANKNIFTY, date(2026, 12, 29), ["54000"], 30),
    (U.MIDCPNIFTY, date(2026, 12, 29), ["13012.5"], 120),
    (U.SENSEX, date(2026, 12, 3), ["80000"], 20),
]
EXPECTED = {
    ContractKey(u, e, Decimal(k), t): lot
    for u, e, strikes, lot in SERIES
    for k in strikes
    for t in OptionType
}
NIFTY_CE = ContractKey(U.NIFTY, date(2026, 12, 1), Decimal(23950), OptionType.CE)
EXPECTED_REFS = {
    Broker.KITE: ("NIFTY26D0123950CE", str(48201 * 256 + 3)),
    Broker.ANGEL: ("NIFTY01DEC2623950CE", "48201"),
    Broker.UPSTOX: ("NIFTY 23950 CE 01 DEC 26", "NSE_FO|48201"),
    Broker.FYERS: ("NSE:NIFTY26D0123950CE", "101126120148201"),
    Broker.DHAN: ("NIFTY-Dec2026-23950-CE", "48201"),
    Broker.NOREN: ("NIFTY01DEC26C23950", "48201"),
}


def read(name, mode="r"):
    path = FIXTURES / name
    return path.read_bytes() if mode == "rb" else path.read_text()


@pytest.mark.parametrize("broker", list(PARSERS))
def test_each_master_normalises_to_the_same_contracts(broker):
    parse, name = PARSERS[broker]
    instruments = parse(read(name, "rb"))  # bytes in, like a download
    assert {i.key: i.lot_size for i in instruments} == EXPECTED
    for instrument in instruments:
        assert instrument.tick_size == Decimal("0.05")
        assert instrument.exchange is (
            Exchange.BFO if instrument.underlying is U.SENSEX else Exchange.NFO
        )
        assert set(instrument.refs) == {broker}
    nifty = next(i for i in instruments if i.key == NIFTY_CE)
    ref = nifty.ref(broker)
    assert (ref.symbol, ref.token) == EXPECTED_REFS[broker]
    assert str(next(i.strike for i in instruments if i.underlying is U.MIDCPNIFTY)) == "13012.5"


def test_upstox_carries_the_freeze_quantity():
    instruments = parse_upstox_master(read("upstox_complete.json"))
    assert {i.freeze_qty for i in instruments if i.underlying is U.NIFTY} == {1800}


def test_text_with_bom_is_accepted():
    assert len(parse_kite_master("\ufeff" + read("kite_instruments.csv"))) == len(EXPECTED)


def _truncate(text):
    return text[: len(text) - 40]


@pytest.mark.parametrize("broker", list(PARSERS))
def test_a_file_cut_mid_row_is_rejected_whole(broker):
    parse, name = PARSERS[broker]
    with pytest.raises(MasterParseError) as info:
        parse(_truncate(read(name)))
    assert info.value.code == "master_unparseable"


@pytest.mark.parametrize(
    ("broker", "old", "new"),
    [
        (Broker.KITE, ",23950,0.05,65,CE,", ",23950,0.05,sixty,CE,"),
        (Broker.KITE, "NIFTY,0,2026-12-01", "NIFTY,0,2026-13-01"),
        (Broker.KITE, "80000,0.05,20,CE,BFO-OPT,BFO", "80000,0.05,20,CE,NFO-OPT,NFO"),
        (Broker.ANGEL, '"01DEC2026"', '"01XYZ2026"'),
        (Broker.ANGEL, '"lotsize": "20"', '"lotsize": "2.5"'),
        (Broker.UPSTOX, '"NSE_FO|48201"', '"NSE_FO|abc"'),
        (Broker.FYERS, ",23950.0,CE,", ",-23950.0,CE,"),
        (Broker.DHAN, "23950.00000,CE,5.0000", "23950.00000,CE,zero"),
        (Broker.DHAN, "NSE,D,48201", "BSE,D,48201"),
        (Broker.NOREN, "01-DEC-2026,OPTIDX,CE", "01-DEC-2026,OPTIDX,XX"),
        (Broker.NOREN, ",65,NIFTY,NIFTY01DEC26C23950", ",,NIFTY,NIFTY01DEC26C23950"),
    ],
)
def test_a_bad_value_in_an_option_row_rejects_the_file(broker, old, new):
    parse, name = PARSERS[broker]
    text = read(name)
    assert old in text
    with pytest.raises(MasterParseError):
        parse(text.replace(old, new, 1))


@pytest.mark.parametrize(
    ("parse", "data"),
    [
        (parse_kite_master, ""),
        (parse_kite_master, "instrument_token,name\n1,NIFTY\n"),
        (parse_dhan_master, b""),
        (parse_noren_master, ""),
        (parse_angel_master, "{}"),
        (parse_angel_master, "[1]"),
        (parse_angel_master, "[{"),
        (parse_upstox_master, "{}"),
        (parse_upstox_master, "[1]"),
        (parse_upstox_master, "not json"),
        (parse_fyers_master, "1,2,3\n"),
        (parse_kite_master, b"\xff\xfe bad bytes"),
    ],
)
def test_structurally_broken_files(parse, data):
    with pytest.raises(MasterParseError):
        parse(data)


def test_blank_lines_are_ignored():
    text = read("kite_instruments.csv").replace("\r\n", "\r\n\r\n", 2)
    assert len(parse_kite_master(text)) == len(EXPECTED)


# -- atomic loading ------------------------------------------------------------------------


def holder(**kwargs):
    return MasterHolder(parse_kite_master, required=[U.NIFTY, U.SENSEX], source="kite", **kwargs)


def test_good_master_is_swapped_in():
    h = holder()
    assert h.current is None
    report = h.load(read("kite_instruments.csv"))
    assert report.accepted and report.contracts == len(EXPECTED) and report.error is None
    assert h.current.strikes(U.NIFTY, date(2026, 12, 1)) == (Decimal(23950), Decimal(24000))


@pytest.mark.parametrize(
    ("broken", "code"),
    [
        (lambda t: _truncate(t), "master_unparseable"),
        (lambda t: t.splitlines()[0] + "\n", "master_rejected"),  # header only
        (lambda t: "\n".join(r for r in t.splitlines() if "SENSEX" not in r), "master_rejected"),
        (lambda t: t + t.splitlines()[4] + "\n", "master_duplicate"),
        (lambda t: "\n".join(t.splitlines()[:6]) + "\n", "master_rejected"),  # cut at a line
    ],
)
def test_a_broken_or_partial_file_keeps_the_previous_master(broken, code):
    h = holder()
    good = read("kite_instruments.csv")
    h.load(good)
    before = h.current
    report = h.load(broken(good))
    assert not report.accepted
    assert report.code == code and report.error
    assert report.contracts == len(before)
    assert h.current is before


def test_first_load_failure_leaves_no_master():
    h = holder()
    report = h.load("garbage")
    assert not report.accepted and report.contracts == 0 and h.current is None


def test_duplicate_contracts_are_refused_by_the_master_itself():
    instruments = parse_kite_master(read("kite_instruments.csv"))
    with pytest.raises(DuplicateContract):
        InstrumentMaster([*instruments, instruments[0]])


def test_angel_fixture_uses_mixed_month_case():
    rows = json.loads(read("angel_scrip_master.json"))
    assert any(r["expiry"][2:5] == "Dec" for r in rows) and any(
        r["expiry"][2:5] == "DEC" for r in rows
    )


@pytest.mark.parametrize("broker", [b for b in PARSERS if b not in (Broker.ANGEL, Broker.UPSTOX)])
def test_blank_lines_anywhere_are_ignored(broker):
    parse, name = PARSERS[broker]
    lines = read(name).splitlines()
    text = "\n".join([lines[0], "", *lines[1:4], "", *lines[4:], ""])
    assert len(parse(text)) == len(EXPECTED)


def test_other_index_options_in_a_dhan_master_are_skipped():
    extra = "BSE,D,1130,OPTIDX,0,BANKEX-Dec2026-60000-CE,30.0,BANKEX 01 DEC 60000 CALL,2026-12-01 14:30:00,60000.00000,CE,5.0000,W,OP,NA,NA\n"
    assert len(parse_dhan_master(read("dhan_scrip_master.csv") + extra)) == len(EXPECTED)


def test_an_option_row_without_a_token_rejects_the_file():
    text = read("kite_instruments.csv").replace(str(48201 * 256 + 3), "", 1)
    with pytest.raises(MasterParseError, match="token"):
        parse_kite_master(text)


def test_a_much_smaller_master_is_refused_as_partial():
    h = MasterHolder(parse_kite_master, required=[U.NIFTY], source="kite")
    good = read("kite_instruments.csv")
    assert h.load(good).accepted
    nifty_weekly_only = "\n".join(
        r
        for r in good.splitlines()
        if "BANKNIFTY" not in r and "2026-12-29" not in r and "SENSEX" not in r and "MIDCP" not in r
    )
    report = h.load(nifty_weekly_only)
    assert not report.accepted and "looks partial" in report.error
    assert len(h.current) == len(EXPECTED)
