import math
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.market_errors import MarketDataError
from chalicelib.domain.pricing import bs_delta, bs_price, implied_volatility
from chalicelib.domain.underlying import OptionType

CE, PE = OptionType.CE, OptionType.PE


def test_known_value_against_textbook_example():
    # Hull's example: S=42, K=40, r=10%, sigma=20%, T=0.5 -> call 4.76, put 0.81.
    assert bs_price(CE, Decimal(42), Decimal(40), 0.5, 0.2, rate=0.1) == pytest.approx(
        Decimal("4.7594"), abs=Decimal("0.0001")
    )
    assert bs_price(PE, Decimal(42), Decimal(40), 0.5, 0.2, rate=0.1) == pytest.approx(
        Decimal("0.8086"), abs=Decimal("0.0001")
    )


def test_put_call_parity_with_dividend_yield():
    s, k, t, r, q = Decimal(24000), Decimal(24200), 30 / 365, 0.065, 0.012
    call = bs_price(CE, s, k, t, 0.15, rate=r, dividend=q)
    put = bs_price(PE, s, k, t, 0.15, rate=r, dividend=q)
    parity = float(s) * math.exp(-q * t) - float(k) * math.exp(-r * t)
    assert float(call - put) == pytest.approx(parity, abs=1e-3)


def test_expiry_and_zero_vol_give_intrinsic_and_step_delta():
    assert bs_price(CE, Decimal(100), Decimal(90), 0.0, 0.2) == Decimal(10)
    assert bs_price(PE, Decimal(100), Decimal(90), 0.0, 0.2) == Decimal(0)
    assert bs_delta(CE, Decimal(100), Decimal(90), 0.0, 0.2) == 1.0
    assert bs_delta(PE, Decimal(100), Decimal(90), 0.0, 0.2) == 0.0
    assert bs_delta(PE, Decimal(80), Decimal(90), 0.0, 0.2) == -1.0


def test_delta_signs_and_atm_near_half():
    c = bs_delta(CE, Decimal(24000), Decimal(24000), 7 / 365, 0.13)
    p = bs_delta(PE, Decimal(24000), Decimal(24000), 7 / 365, 0.13)
    assert 0.5 < c < 0.52 and -0.5 < p < -0.48
    assert c - p == pytest.approx(1.0)


def test_bad_inputs_raise():
    with pytest.raises(MarketDataError):
        bs_price(CE, Decimal(0), Decimal(100), 0.1, 0.2)
    with pytest.raises(MarketDataError):
        bs_price(CE, Decimal(100), Decimal(100), -0.1, 0.2)
    with pytest.raises(MarketDataError):
        implied_volatility(CE, Decimal(5), Decimal(100), Decimal(100), 0.0)


def test_iv_rejects_prices_outside_no_arbitrage_bounds():
    with pytest.raises(MarketDataError) as info:
        implied_volatility(CE, Decimal("1.00"), Decimal(24000), Decimal(23000), 7 / 365)
    assert info.value.field == "premium"
    with pytest.raises(MarketDataError):
        implied_volatility(CE, Decimal(25000), Decimal(24000), Decimal(23000), 7 / 365)


@given(
    vol=st.floats(min_value=0.03, max_value=2.0),
    moneyness=st.floats(min_value=0.85, max_value=1.15),
    days=st.integers(min_value=1, max_value=90),
    option_type=st.sampled_from([CE, PE]),
)
def test_iv_round_trips_the_price(vol, moneyness, days, option_type):
    spot, strike, years = Decimal(24000), Decimal(round(24000 * moneyness)), days / 365
    price = bs_price(option_type, spot, strike, years, vol, rate=0.065)
    floor = bs_price(option_type, spot, strike, years, 1e-4, rate=0.065)
    if price - floor < Decimal("0.5"):  # too little time value to pin the volatility down
        return
    solved = implied_volatility(option_type, price, spot, strike, years, rate=0.065)
    repriced = bs_price(option_type, spot, strike, years, solved, rate=0.065)
    assert abs(repriced - price) < Decimal("0.001")
