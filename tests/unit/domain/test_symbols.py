from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.expiry import default_expiry_rules, listed_expiries
from chalicelib.domain.instrument import ContractKey
from chalicelib.domain.market_errors import SymbolError
from chalicelib.domain.symbols import (
    angel_symbol,
    dhan_exchange_segment,
    format_strike,
    fyers_symbol,
    kite_symbol,
    noren_symbol,
    parse_angel_symbol,
    parse_fyers_symbol,
    parse_kite_symbol,
    parse_noren_symbol,
    parse_upstox_instrument_key,
    upstox_instrument_key,
)
from chalicelib.domain.underlying import Exchange, OptionType
from chalicelib.domain.underlying import Underlying as U

CE, PE = OptionType.CE, OptionType.PE


def key(u, d, k, t=CE):
    return ContractKey(u, date.fromisoformat(d), Decimal(k), t)


def test_examples_from_brokers_md():
    weekly = key(U.NIFTY, "2026-11-24", 23950)  # Kite's weekly example has the same shape
    assert kite_symbol(weekly, monthly=False) == "NIFTY26N2423950CE"
    assert kite_symbol(key(U.NIFTY, "2026-12-29", 24000), monthly=True) == "NIFTY26DEC24000CE"
    assert fyers_symbol(weekly, monthly=False) == "NSE:NIFTY26N2423950CE"
    assert angel_symbol(key(U.NIFTY, "2024-04-04", 23000)) == "NIFTY04APR2423000CE"
    assert noren_symbol(key(U.NIFTY, "2026-11-24", 23950)) == "NIFTY24NOV26C23950"
    assert upstox_instrument_key(Exchange.NFO, "45450") == "NSE_FO|45450"
    assert upstox_instrument_key(Exchange.BFO, "1130") == "BSE_FO|1130"


def test_weekly_month_codes_and_monthly_form_for_the_last_expiry_of_the_month():
    assert kite_symbol(key(U.NIFTY, "2026-01-06", 25000)) == "NIFTY2610625000CE"
    assert kite_symbol(key(U.NIFTY, "2026-10-06", 25000, PE)) == "NIFTY26O0625000PE"
    assert kite_symbol(key(U.NIFTY, "2026-12-01", 24000)) == "NIFTY26D0124000CE"
    # Nov 2026's last expiry is Mon 23rd (the 24th is a holiday): monthly form, by the rules.
    assert kite_symbol(key(U.NIFTY, "2026-11-23", 24000)) == "NIFTY26NOV24000CE"
    assert kite_symbol(key(U.NIFTY, "2026-11-17", 24000)) == "NIFTY26N1724000CE"
    assert kite_symbol(key(U.SENSEX, "2026-12-31", 80000)) == "SENSEX26DEC80000CE"
    assert fyers_symbol(key(U.SENSEX, "2026-12-03", 80000, PE)) == "BSE:SENSEX26D0380000PE"


def test_fractional_strikes():
    assert format_strike(Decimal("13012.50")) == "13012.5"
    assert format_strike(Decimal("24000.00")) == "24000"
    k = key(U.MIDCPNIFTY, "2026-12-29", "13012.5", PE)
    assert kite_symbol(k) == "MIDCPNIFTY26DEC13012.5PE"
    assert parse_kite_symbol(kite_symbol(k)) == k


def test_niftynxt50_digits_do_not_confuse_the_parsers():
    k = key(U.NIFTYNXT50, "2026-12-29", 68000)
    for build, parse in (
        (kite_symbol, parse_kite_symbol),
        (angel_symbol, parse_angel_symbol),
        (noren_symbol, parse_noren_symbol),
    ):
        assert parse(build(k)) == k


@pytest.mark.parametrize(
    "bad",
    ["NIFTY26XYZ24000CE", "BANKEX26DEC50000CE", "NIFTY26DEC24000XE", "NIFTY26N3124000CE", ""],
)
def test_kite_parse_rejects(bad):
    with pytest.raises(SymbolError):
        parse_kite_symbol(bad)


def test_other_parsers_reject():
    with pytest.raises(SymbolError):
        parse_angel_symbol("NIFTY31FEB2623000CE")
    with pytest.raises(SymbolError):
        parse_angel_symbol("NIFTY04ABC2423000CE")
    with pytest.raises(SymbolError):
        parse_angel_symbol("NIFTY0423000CE")
    with pytest.raises(SymbolError):
        parse_noren_symbol("NIFTY24NOV26X23950")
    with pytest.raises(SymbolError):
        parse_fyers_symbol("BSE:NIFTY26N2423950CE")
    with pytest.raises(SymbolError):
        parse_upstox_instrument_key("NSE_EQ|2885")
    with pytest.raises(SymbolError):
        upstox_instrument_key(Exchange.NFO, "NIFTY")


def test_upstox_and_dhan_identifiers():
    assert parse_upstox_instrument_key("BSE_FO|1130") == (Exchange.BFO, "1130")
    assert dhan_exchange_segment(Exchange.NFO) == "NSE_FNO"
    assert dhan_exchange_segment(Exchange.BFO) == "BSE_FNO"


def test_monthly_parse_uses_the_given_resolver():
    k = parse_kite_symbol("NIFTY26DEC24000CE", monthly_expiry=lambda u, y, m: date(y, m, 30))
    assert k.expiry == date(2026, 12, 30)


contracts = st.builds(
    lambda u, on, i, offset, t: ContractKey(
        u,
        listed_expiries(u, on)[i % len(listed_expiries(u, on))].date,
        Decimal(20000 + offset * 50),
        t,
    ),
    st.sampled_from(list(U)),
    st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 10, 1)),
    st.integers(0, 10),
    st.integers(0, 400),
    st.sampled_from([CE, PE]),
)


@given(contracts)
def test_every_dialect_round_trips(k):
    assert parse_kite_symbol(kite_symbol(k)) == k
    assert parse_fyers_symbol(fyers_symbol(k)) == k
    assert parse_angel_symbol(angel_symbol(k)) == k
    assert parse_noren_symbol(noren_symbol(k)) == k
    symbol = kite_symbol(k)
    monthly = default_expiry_rules().is_monthly(k.underlying, k.expiry)
    assert (symbol[len(k.underlying) + 2 : len(k.underlying) + 5].isalpha()) == monthly
