import math
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.calendar import IST
from chalicelib.domain.market_errors import (
    InvalidRuleValue,
    MarketDataError,
    MarketRuleError,
    NoSuchStrike,
)
from chalicelib.domain.option_chain import ChainQuote, OptionChain
from chalicelib.domain.pricing import bs_delta_float
from chalicelib.domain.strike_selection import (
    StrikeMethod,
    atm_strike,
    select_strike,
    validate_strike_rule,
)
from chalicelib.domain.underlying import OptionType

from .helpers import nifty_chain, smile_vol

M = StrikeMethod
CE, PE = OptionType.CE, OptionType.PE
SPOT = Decimal("24012.35")
CHAIN = nifty_chain(str(SPOT))
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=IST)
EXPIRY_TIME = NOW + timedelta(days=5)
TIMES = {"expiry_time": EXPIRY_TIME, "now": NOW, "rate": 0.065}


def pick(method, value, option_type, spot=SPOT, chain=CHAIN):
    return select_strike(method, value, option_type, spot, chain, **TIMES)


def premiums(option_type):
    return {k: CHAIN.quote(k).premium(option_type) for k in CHAIN.strikes}


def test_chain_is_realistic():
    assert len(CHAIN) == 81 and CHAIN.strikes[0] == 22000 and CHAIN.strikes[-1] == 26000
    ce, pe = premiums(CE), premiums(PE)
    assert all(a >= b for a, b in zip(list(ce.values()), list(ce.values())[1:], strict=False))
    assert 100 < ce[Decimal(24000)] < 200 and 80 < pe[Decimal(24000)] < 200
    assert pe[Decimal(23000)] > ce[Decimal(25000)]  # put skew


def test_atm_is_nearest_listed_strike_and_ties_go_to_the_lower():
    assert atm_strike(SPOT, CHAIN) == 24000
    assert atm_strike(Decimal("24025"), CHAIN) == 24000
    assert atm_strike(Decimal("24025.05"), CHAIN) == 24050
    assert atm_strike(Decimal("10000"), CHAIN) == 22000
    assert atm_strike(Decimal("99000"), CHAIN) == 26000


def test_atm_offset_positive_is_otm_for_both_sides():
    assert pick(M.ATM_OFFSET, 0, CE) == 24000 == pick(M.ATM_OFFSET, 0, PE)
    assert pick(M.ATM_OFFSET, 2, CE) == 24100
    assert pick(M.ATM_OFFSET, 2, PE) == 23900
    assert pick(M.ATM_OFFSET, -3, CE) == 23850
    assert pick(M.ATM_OFFSET, -3, PE) == 24150
    with pytest.raises(NoSuchStrike):
        pick(M.ATM_OFFSET, 30, PE, spot=Decimal(23000))


def test_atm_offset_counts_listed_strikes_not_arithmetic_steps():
    sparse = OptionChain(ChainQuote(Decimal(k), Decimal(1), Decimal(1)) for k in (100, 200, 400))
    assert select_strike(M.ATM_OFFSET, 1, CE, Decimal(190), sparse) == 400


def test_atm_percent_is_otm_for_both_sides():
    assert pick(M.ATM_PERCENT, 1, CE) == 24250  # 24012.35 * 1.01 = 24252.47
    assert pick(M.ATM_PERCENT, 1, PE) == 23750  # 24012.35 * 0.99 = 23772.23
    assert pick(M.ATM_PERCENT, "-0.5", CE) == 23900  # 23892.29
    assert pick(M.ATM_PERCENT, 0, PE) == 24000


@pytest.mark.parametrize("option_type", [CE, PE])
@pytest.mark.parametrize("target", ["2", "37.5", "100", "180", "333"])
def test_premium_methods_agree_with_a_brute_force_scan(option_type, target):
    x = Decimal(target)
    quotes = premiums(option_type)
    closest = pick(M.CLOSEST_PREMIUM, x, option_type)
    assert abs(quotes[closest] - x) == min(abs(p - x) for p in quotes.values())
    gte = pick(M.PREMIUM_GTE, x, option_type)
    assert quotes[gte] == min(p for p in quotes.values() if p >= x)
    lte = pick(M.PREMIUM_LTE, x, option_type)
    assert quotes[lte] == max(p for p in quotes.values() if p <= x)
    assert quotes[lte] <= x <= quotes[gte]


def test_premium_ties_go_nearer_the_money():
    # Deep OTM CEs all trade at one tick: "at most 0.05" must pick the one nearest the money.
    quotes = premiums(CE)
    tick_strikes = sorted(k for k, p in quotes.items() if p == Decimal("0.05"))
    assert len(tick_strikes) > 1
    assert pick(M.PREMIUM_LTE, "0.05", CE) == tick_strikes[0]
    even = OptionChain(
        [ChainQuote(Decimal(100), Decimal(95)), ChainQuote(Decimal(200), Decimal(105))]
    )
    assert select_strike(M.CLOSEST_PREMIUM, 100, CE, Decimal(190), even) == 200
    assert select_strike(M.CLOSEST_PREMIUM, 100, CE, Decimal(110), even) == 100


def test_premium_rules_that_nothing_meets():
    with pytest.raises(NoSuchStrike):
        pick(M.PREMIUM_GTE, 5000, CE)
    with pytest.raises(NoSuchStrike):
        pick(M.PREMIUM_LTE, "0.01", CE)


def test_straddle_percent():
    atm = Decimal(24000)
    straddle = CHAIN.premium(atm, CE) + CHAIN.premium(atm, PE)
    for pct in (10, 25, 50, 100):
        target = straddle * pct / 100
        for option_type in (CE, PE):
            quotes = premiums(option_type)
            chosen = pick(M.STRADDLE_PERCENT, pct, option_type)
            assert abs(quotes[chosen] - target) == min(abs(p - target) for p in quotes.values())
    assert pick(M.STRADDLE_PERCENT, 30, CE) > atm and pick(M.STRADDLE_PERCENT, 30, PE) < atm


def _true_delta(strike, option_type):
    # Re-derive the generating smile of helpers.nifty_chain, independent of the IV solver.
    s, k = float(SPOT), float(strike)
    vol = smile_vol(math.log(k / s))
    return abs(bs_delta_float(option_type, s, k, 5 / 365, vol, 0.065, 0.0))


@pytest.mark.parametrize("option_type", [CE, PE])
@pytest.mark.parametrize("target", ["0.5", "0.3", "0.2", "0.1", "0.7"])
def test_delta_selection_matches_the_generating_model(option_type, target):
    chosen = pick(M.DELTA, target, option_type)
    by_truth = min(CHAIN.strikes, key=lambda k: abs(_true_delta(k, option_type) - float(target)))
    assert abs(chosen - by_truth) <= 50  # tick rounding of premiums may move it one strike
    assert abs(_true_delta(chosen, option_type) - float(target)) < 0.05
    if option_type is CE:
        assert (chosen >= 24000) == (float(target) <= 0.5)


def test_delta_needs_aware_times_before_expiry():
    with pytest.raises(MarketDataError):
        select_strike(M.DELTA, "0.3", CE, SPOT, CHAIN)
    with pytest.raises(MarketDataError):
        select_strike(M.DELTA, "0.3", CE, SPOT, CHAIN, expiry_time=datetime(2026, 12, 1), now=NOW)
    with pytest.raises(MarketDataError):
        select_strike(M.DELTA, "0.3", CE, SPOT, CHAIN, expiry_time=NOW, now=NOW)


def test_delta_with_no_solvable_premium_is_a_data_error():
    flat = OptionChain([ChainQuote(Decimal(24000), Decimal("0"), None)])
    with pytest.raises(MarketDataError):
        select_strike(M.DELTA, "0.3", CE, SPOT, flat, **TIMES)


def test_exact_must_be_listed():
    assert pick(M.EXACT, "24050.00", CE) == Decimal(24050)
    with pytest.raises(NoSuchStrike) as info:
        pick(M.EXACT, 24060, CE)
    assert info.value.code == "no_such_strike"


def test_missing_quotes_raise_explicit_data_errors():
    blank = OptionChain.from_premiums([Decimal(24000), Decimal(24050)], {}, {})
    with pytest.raises(MarketDataError):
        select_strike(M.CLOSEST_PREMIUM, 100, CE, SPOT, blank)
    with pytest.raises(MarketDataError):
        select_strike(M.STRADDLE_PERCENT, 50, CE, SPOT, blank)
    with pytest.raises(MarketDataError):
        select_strike(M.ATM_OFFSET, 0, CE, Decimal(0), blank)
    with pytest.raises(MarketDataError):
        OptionChain([])
    with pytest.raises(MarketDataError):
        OptionChain([ChainQuote(Decimal(1)), ChainQuote(Decimal(1))])
    with pytest.raises(MarketDataError):
        OptionChain([ChainQuote(Decimal(1), Decimal(-1))])
    assert Decimal(24000) in blank and Decimal(1) not in blank


@pytest.mark.parametrize(
    ("method", "good", "bad"),
    [
        (M.ATM_OFFSET, ["-30", "0", "30"], ["31", "-31", "1.5"]),
        (M.ATM_PERCENT, ["-20", "0.25", "20"], ["20.01", "-21"]),
        (M.CLOSEST_PREMIUM, ["0.05", "99999.95"], ["0", "-1", "100000"]),
        (M.PREMIUM_GTE, ["1"], ["0", "100000"]),
        (M.PREMIUM_LTE, ["1"], ["0", "100001"]),
        (M.STRADDLE_PERCENT, ["1", "200"], ["0.99", "200.5"]),
        (M.DELTA, ["0.01", "0.99"], ["0", "1", "0.999"]),
        (M.EXACT, ["0.05", "24000", "24012.05"], ["0", "24012.03", "-50"]),
    ],
)
def test_validate_strike_rule_bounds(method, good, bad):
    for value in good:
        validate_strike_rule(method, value)
    for value in bad:
        with pytest.raises(InvalidRuleValue) as info:
            validate_strike_rule(method, value)
        assert info.value.field == "value"
        assert isinstance(info.value, MarketRuleError)
        assert method.value in info.value.message or "EXACT" in info.value.message


def test_validate_rejects_non_numbers():
    with pytest.raises(InvalidRuleValue):
        validate_strike_rule(M.DELTA, "abc")


@settings(max_examples=60, deadline=None)
@given(
    spot=st.decimals(min_value="22500", max_value="25500", places=2),
    method=st.sampled_from([m for m in M if m is not M.EXACT]),
    option_type=st.sampled_from([CE, PE]),
    data=st.data(),
)
def test_only_listed_strikes_are_ever_chosen(spot, method, option_type, data):
    value = {
        M.ATM_OFFSET: st.integers(-5, 5),
        M.ATM_PERCENT: st.decimals("-5", "5", places=2),
        M.CLOSEST_PREMIUM: st.decimals("0.05", "2000", places=2),
        M.PREMIUM_GTE: st.decimals("0.05", "200", places=2),
        M.PREMIUM_LTE: st.decimals("1", "2000", places=2),
        M.STRADDLE_PERCENT: st.decimals("1", "200", places=1),
        M.DELTA: st.decimals("0.05", "0.95", places=2),
    }[method]
    chain = nifty_chain(str(spot))
    try:
        chosen = pick(method, data.draw(value), option_type, spot=spot, chain=chain)
    except NoSuchStrike:
        return
    assert chosen in chain


def _delta_full_scan(chain, spot, option_type, target, years):
    """Reference: solve every strike, pick nearest |delta| (ties nearer the money, then lower)."""
    from chalicelib.domain.pricing import bs_delta, implied_volatility

    scored = []
    for k in chain.strikes:
        premium = chain.quote(k).premium(option_type)
        try:
            vol = implied_volatility(option_type, premium, spot, k, years, rate=0.065)
        except MarketDataError:
            continue
        delta = abs(bs_delta(option_type, spot, k, years, vol, rate=0.065))
        scored.append((abs(delta - target), abs(k - spot), k))
    return min(scored)[2]


@settings(max_examples=40, deadline=None)
@given(
    spot=st.decimals(min_value="23000", max_value="25000", places=2),
    target=st.decimals(min_value="0.01", max_value="0.99", places=2),
    option_type=st.sampled_from([CE, PE]),
)
def test_windowed_delta_search_equals_a_full_scan(spot, target, option_type):
    chain = nifty_chain(str(spot))
    years = (EXPIRY_TIME - NOW).total_seconds() / (365 * 24 * 3600)
    chosen = select_strike(M.DELTA, target, option_type, spot, chain, **TIMES)
    assert chosen == _delta_full_scan(chain, spot, option_type, float(target), years)


def test_strikes_without_a_quote_are_skipped_by_premium_rules():
    gappy = OptionChain(
        [
            ChainQuote(Decimal(100), Decimal(50), None),
            ChainQuote(Decimal(200), None, None),
            ChainQuote(Decimal(300), Decimal(10), None),
        ]
    )
    assert select_strike(M.CLOSEST_PREMIUM, 25, CE, Decimal(190), gappy) == 300
    assert select_strike(M.CLOSEST_PREMIUM, 30, CE, Decimal(190), gappy) == 100  # tie: nearer
    assert select_strike(M.PREMIUM_GTE, 11, CE, Decimal(190), gappy) == 100


def test_delta_search_widens_its_window_on_a_fine_grid():
    fine = nifty_chain(str(SPOT), step=5, width=400)
    chosen = select_strike(M.DELTA, "0.05", CE, SPOT, fine, **TIMES)
    years = (EXPIRY_TIME - NOW).total_seconds() / (365 * 24 * 3600)
    assert chosen == _delta_full_scan(fine, SPOT, CE, 0.05, years)


def test_delta_skips_arbitrage_violating_quotes_and_survives_a_missing_atm_quote():
    quotes = {k: CHAIN.quote(k) for k in CHAIN.strikes}
    broken = [
        ChainQuote(k, None if k == 24000 else q.ce, Decimal("0.05") if k == 25000 else q.pe)
        for k, q in quotes.items()
    ]  # no CE at ATM; a 25000 PE below intrinsic
    chain = OptionChain(broken)
    assert select_strike(M.DELTA, "0.3", CE, SPOT, chain, **TIMES) == pick(M.DELTA, "0.3", CE)
    assert select_strike(M.DELTA, "0.99", PE, SPOT, chain, **TIMES) != Decimal(25000)
