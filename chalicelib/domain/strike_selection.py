"""Choosing a listed strike from a rule (``StrikeMethod`` + value) and an option-chain snapshot.

Definitions and tie rules (every choice is a LISTED strike of the chain):

* ATM: the listed strike nearest to spot; exactly half-way between two strikes -> the LOWER one.
* ATM_OFFSET n (integer): n listed strikes away from ATM, positive = out of the money for both
  sides (CE: higher strikes, PE: lower strikes), negative = in the money, 0 = ATM.
* ATM_PERCENT p: the listed strike nearest spot*(1+p/100) for a CE and spot*(1-p/100) for a PE,
  so positive p is out of the money for both sides (ATM tie rule applies).
* CLOSEST_PREMIUM x: premium nearest x. PREMIUM_GTE x: the smallest premium >= x.
  PREMIUM_LTE x: the largest premium <= x.
* STRADDLE_PERCENT x: premium nearest x% of the ATM straddle (CE + PE at the ATM strike).
* DELTA d: |delta| nearest d, with each strike's volatility implied from its own premium.
* EXACT k: k itself, which must be listed.

Premium and delta ties go to the strike NEARER THE MONEY (closer to spot: more liquid), and if
still tied to the lower strike. Strikes without a quote are skipped; when nothing qualifies the
selection raises ``NoSuchStrike`` (the rule cannot be met) or ``MarketDataError`` (data missing).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from statistics import NormalDist

from chalicelib.domain.market_errors import InvalidRuleValue, MarketDataError, NoSuchStrike
from chalicelib.domain.money import TICK, to_decimal
from chalicelib.domain.option_chain import OptionChain
from chalicelib.domain.pricing import bs_delta_float, implied_volatility
from chalicelib.domain.underlying import OptionType

SECONDS_PER_YEAR = 365.0 * 24 * 3600
_NORMAL = NormalDist()


class StrikeMethod(StrEnum):
    """How a leg's strike is chosen."""

    ATM_OFFSET = "ATM_OFFSET"
    ATM_PERCENT = "ATM_PERCENT"
    CLOSEST_PREMIUM = "CLOSEST_PREMIUM"
    PREMIUM_GTE = "PREMIUM_GTE"
    PREMIUM_LTE = "PREMIUM_LTE"
    STRADDLE_PERCENT = "STRADDLE_PERCENT"
    DELTA = "DELTA"
    EXACT = "EXACT"


#: Inclusive (low, high) bounds per method; premiums are exclusive of 0 and 100000 (see below).
STRIKE_RULE_BOUNDS: dict[StrikeMethod, tuple[Decimal, Decimal]] = {
    StrikeMethod.ATM_OFFSET: (Decimal(-30), Decimal(30)),
    StrikeMethod.ATM_PERCENT: (Decimal(-20), Decimal(20)),
    StrikeMethod.CLOSEST_PREMIUM: (Decimal(0), Decimal(100000)),
    StrikeMethod.PREMIUM_GTE: (Decimal(0), Decimal(100000)),
    StrikeMethod.PREMIUM_LTE: (Decimal(0), Decimal(100000)),
    StrikeMethod.STRADDLE_PERCENT: (Decimal(1), Decimal(200)),
    StrikeMethod.DELTA: (Decimal("0.01"), Decimal("0.99")),
    StrikeMethod.EXACT: (TICK, Decimal(1000000)),
}
_EXCLUSIVE = {StrikeMethod.CLOSEST_PREMIUM, StrikeMethod.PREMIUM_GTE, StrikeMethod.PREMIUM_LTE}


def validate_strike_rule(method: StrikeMethod, value: Decimal | int | float | str) -> None:
    """Raise ``InvalidRuleValue`` (field ``value``) when ``value`` is out of range for ``method``.

    Ranges: ATM_OFFSET an integer in [-30, 30]; ATM_PERCENT [-20, 20]; premiums in (0, 100000);
    STRADDLE_PERCENT [1, 200]; DELTA [0.01, 0.99] (absolute delta); EXACT a positive multiple
    of 0.05 up to 1,000,000.
    """
    number = to_decimal(value, field="value")
    low, high = STRIKE_RULE_BOUNDS[StrikeMethod(method)]
    if method in _EXCLUSIVE:
        ok = low < number < high
        shown = f"greater than {low} and less than {high}"
    else:
        ok = low <= number <= high
        shown = f"between {low} and {high}"
    if not ok:
        raise InvalidRuleValue(f"{method} value must be {shown}, got {number}", field="value")
    if method is StrikeMethod.ATM_OFFSET and number != number.to_integral_value():
        raise InvalidRuleValue(f"ATM_OFFSET must be a whole number, got {number}", field="value")
    if method is StrikeMethod.EXACT and number % TICK:
        raise InvalidRuleValue(f"EXACT strike must be a multiple of {TICK}", field="value")


def atm_strike(spot: Decimal, chain: OptionChain) -> Decimal:
    """The listed strike nearest spot (tie -> lower strike)."""
    return chain.strikes[chain.nearest_index(spot)]


def select_strike(
    method: StrikeMethod,
    value: Decimal | int | float | str,
    option_type: OptionType,
    spot: Decimal,
    chain: OptionChain,
    *,
    expiry_time: datetime | None = None,
    now: datetime | None = None,
    rate: float = 0.0,
    dividend: float = 0.0,
) -> Decimal:
    """The listed strike that ``method``/``value`` selects (see the module docstring)."""
    validate_strike_rule(method, value)
    number = to_decimal(value, field="value")
    if spot <= 0:
        raise MarketDataError(f"spot must be positive, got {spot}", field="spot")
    if method is StrikeMethod.EXACT:
        chain.quote(number)
        return chain.strikes[chain.strikes.index(number)]
    if method is StrikeMethod.ATM_OFFSET:
        return _offset(chain, spot, int(number), option_type)
    if method is StrikeMethod.ATM_PERCENT:
        sign = 1 if option_type is OptionType.CE else -1
        return atm_strike(spot * (1 + sign * number / 100), chain)
    if method is StrikeMethod.DELTA:
        years = _years(expiry_time, now)
        return _by_delta(chain, spot, option_type, float(number), years, rate, dividend)
    if method is StrikeMethod.STRADDLE_PERCENT:
        atm = atm_strike(spot, chain)
        straddle = chain.premium(atm, OptionType.CE) + chain.premium(atm, OptionType.PE)
        number, method = straddle * number / 100, StrikeMethod.CLOSEST_PREMIUM
    return _by_premium(chain, spot, option_type, method, number)


def _offset(chain: OptionChain, spot: Decimal, n: int, option_type: OptionType) -> Decimal:
    index = chain.nearest_index(spot) + (n if option_type is OptionType.CE else -n)
    if not 0 <= index < len(chain):
        raise NoSuchStrike(f"ATM{n:+d} {option_type} is beyond the listed strikes", field="value")
    return chain.strikes[index]


def _years(expiry_time: datetime | None, now: datetime | None) -> float:
    if expiry_time is None or now is None:
        raise MarketDataError("DELTA needs expiry_time and now", field="expiry_time")
    if expiry_time.tzinfo is None or now.tzinfo is None:
        raise MarketDataError("expiry_time and now must be timezone-aware", field="expiry_time")
    years = (expiry_time - now).total_seconds() / SECONDS_PER_YEAR
    if years <= 0:
        raise MarketDataError("the contract has expired; delta is undefined", field="expiry_time")
    return years


def _best(
    strikes: Iterable[Decimal],
    spot: Decimal,
    distance: Callable[[Decimal], float | Decimal | None],
) -> Decimal | None:
    """Strike with the smallest distance; ties -> nearer the money, then lower strike."""
    best: tuple[float | Decimal, Decimal, Decimal] | None = None
    for strike in strikes:
        d = distance(strike)
        if d is None:
            continue
        key = (d, abs(strike - spot), strike)
        if best is None or key < best:
            best = key
    return None if best is None else best[2]


def _by_premium(
    chain: OptionChain,
    spot: Decimal,
    option_type: OptionType,
    method: StrikeMethod,
    target: Decimal,
) -> Decimal:
    def distance(strike: Decimal) -> Decimal | None:
        premium = chain.quote(strike).premium(option_type)
        if premium is None:
            return None
        if method is StrikeMethod.PREMIUM_GTE:
            return premium - target if premium >= target else None
        if method is StrikeMethod.PREMIUM_LTE:
            return target - premium if premium <= target else None
        return abs(premium - target)

    if all(chain.quote(k).premium(option_type) is None for k in chain.strikes):
        raise MarketDataError(f"no {option_type} quotes in the chain", field="chain")
    chosen = _best(chain.strikes, spot, distance)
    if chosen is None:
        raise NoSuchStrike(f"no {option_type} premium satisfies {method} {target}", field="value")
    return chosen


def _by_delta(
    chain: OptionChain,
    spot: Decimal,
    option_type: OptionType,
    target: float,
    years: float,
    rate: float,
    dividend: float,
) -> Decimal:
    """Strike whose |delta| (volatility implied from its own premium) is nearest ``target``.

    Solving a volatility for every strike of a 500-strike chain costs ~10 ms, so the search starts
    at the strike where the target delta would sit under the ATM volatility and evaluates a window
    around it, doubling the window until the target is bracketed away from the window's edges.
    |delta| is monotone in strike on an arbitrage-free chain, so the result equals a full scan.
    """
    s = float(spot)
    signed: dict[int, float | None] = {}  # index -> |delta| - target, None when unsolvable
    centre = _delta_guess(chain, spot, option_type, target, years, rate, dividend)
    width = 8
    while True:
        lo, hi = max(centre - width, 0), min(centre + width, len(chain) - 1)
        for i in range(lo, hi + 1):
            if i not in signed:
                value = _abs_delta(chain, i, option_type, spot, s, years, rate, dividend)
                signed[i] = None if value is None else value - target
        if lo == 0 and hi == len(chain) - 1:
            break
        solved = {i: v for i, v in signed.items() if v is not None}
        if solved and min(solved.values()) <= 0 <= max(solved.values()):
            best = min(solved, key=lambda i: abs(solved[i]))
            if lo < best - 1 and best + 1 < hi:
                break
        width *= 2
    by_strike = {chain.strikes[i]: abs(v) for i, v in signed.items() if v is not None}
    chosen = _best(sorted(by_strike), spot, by_strike.get)
    if chosen is None:
        raise MarketDataError(
            f"no {option_type} premium gives an implied volatility", field="chain"
        )
    return chosen


def _abs_delta(
    chain: OptionChain,
    index: int,
    option_type: OptionType,
    spot: Decimal,
    s: float,
    years: float,
    rate: float,
    dividend: float,
) -> float | None:
    strike = chain.strikes[index]
    premium = chain.quote(strike).premium(option_type)
    if premium is None or premium <= 0:
        return None
    try:
        vol = implied_volatility(
            option_type, premium, spot, strike, years, rate=rate, dividend=dividend
        )
    except MarketDataError:
        return None
    return abs(bs_delta_float(option_type, s, float(strike), years, vol, rate, dividend))


def _delta_guess(
    chain: OptionChain,
    spot: Decimal,
    option_type: OptionType,
    target: float,
    years: float,
    rate: float,
    dividend: float,
) -> int:
    """Index of the strike that has |delta| = target under the ATM volatility (ATM if unknown)."""
    atm = chain.nearest_index(spot)
    premium = chain.quote(chain.strikes[atm]).premium(option_type)
    try:
        if premium is None:
            return atm
        vol = implied_volatility(
            option_type, premium, spot, chain.strikes[atm], years, rate=rate, dividend=dividend
        )
    except MarketDataError:
        return atm
    scaled = min(target * math.exp(dividend * years), 1 - 1e-9)
    d1 = _NORMAL.inv_cdf(scaled) if option_type is OptionType.CE else -_NORMAL.inv_cdf(scaled)
    sd = vol * math.sqrt(years)
    strike = float(spot) * math.exp((rate - dividend + 0.5 * vol * vol) * years - d1 * sd)
    return chain.nearest_index(Decimal(repr(strike)))
