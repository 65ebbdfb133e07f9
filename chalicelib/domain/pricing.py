"""Black-Scholes-Merton price, delta and implied volatility for European index options.

Indian index options are European and cash-settled, so Black-Scholes with a continuous dividend
yield is the standard model. Decimal at the edges (prices in and out), float inside: the maths is
transcendental and a float's 15 digits are far finer than a 0.05 tick. Rate and dividend yield are
parameters (annualised, continuously compounded) because they change and belong to the caller.

Implied volatility is solved by Newton's method with a bisection fallback inside hard bounds, so
it always terminates; a price outside the no-arbitrage bounds has no volatility and raises
``MarketDataError`` rather than returning a made-up number.
"""

from __future__ import annotations

import math
from decimal import Decimal

from chalicelib.domain.market_errors import MarketDataError
from chalicelib.domain.underlying import OptionType

MIN_VOL = 1e-4
MAX_VOL = 5.0
_SQRT2 = math.sqrt(2.0)
#: A tenth of a tick: quotes are rounded, so a price a hair under the model's floor is still valid.
_BOUND_SLACK = 0.005


def _norm_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / _SQRT2)


def _norm_pdf(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def _d1_d2(s: float, k: float, t: float, vol: float, r: float, q: float) -> tuple[float, float]:
    sd = vol * math.sqrt(t)
    d1 = (math.log(s / k) + (r - q + 0.5 * vol * vol) * t) / sd
    return d1, d1 - sd


def _check(spot: float, strike: float, years: float, vol: float) -> None:
    if spot <= 0 or strike <= 0:
        raise MarketDataError("spot and strike must be positive", field="spot")
    if years < 0 or vol < 0:
        raise MarketDataError("time to expiry and volatility must not be negative", field="vol")


def bs_price_float(
    option_type: OptionType, s: float, k: float, t: float, vol: float, r: float, q: float
) -> float:
    """Black-Scholes-Merton premium in floats (the solver's inner loop)."""
    if t <= 0 or vol <= 0:
        forward_intrinsic = s * math.exp(-q * t) - k * math.exp(-r * t)
        signed = forward_intrinsic if option_type is OptionType.CE else -forward_intrinsic
        return max(signed, 0.0)
    d1, d2 = _d1_d2(s, k, t, vol, r, q)
    df_q, df_r = math.exp(-q * t), math.exp(-r * t)
    if option_type is OptionType.CE:
        return s * df_q * _norm_cdf(d1) - k * df_r * _norm_cdf(d2)
    return k * df_r * _norm_cdf(-d2) - s * df_q * _norm_cdf(-d1)


def bs_delta_float(
    option_type: OptionType, s: float, k: float, t: float, vol: float, r: float, q: float
) -> float:
    """Delta (dPremium/dSpot); CE in [0, 1], PE in [-1, 0]. At expiry: 1/0 or -1/0 by moneyness."""
    if t <= 0 or vol <= 0:
        in_the_money = s > k if option_type is OptionType.CE else s < k
        return (1.0 if option_type is OptionType.CE else -1.0) if in_the_money else 0.0
    d1, _ = _d1_d2(s, k, t, vol, r, q)
    df_q = math.exp(-q * t)
    return df_q * _norm_cdf(d1) if option_type is OptionType.CE else -df_q * _norm_cdf(-d1)


def _vega(s: float, k: float, t: float, vol: float, r: float, q: float) -> float:
    d1, _ = _d1_d2(s, k, t, vol, r, q)
    return s * math.exp(-q * t) * _norm_pdf(d1) * math.sqrt(t)


def bs_price(
    option_type: OptionType,
    spot: Decimal,
    strike: Decimal,
    years: float,
    vol: float,
    *,
    rate: float = 0.0,
    dividend: float = 0.0,
) -> Decimal:
    """Premium of a European option, rounded to 4 places (callers snap to the tick)."""
    s, k = float(spot), float(strike)
    _check(s, k, years, vol)
    price = bs_price_float(option_type, s, k, years, vol, rate, dividend)
    return Decimal(repr(price)).quantize(Decimal("0.0001"))


def bs_delta(
    option_type: OptionType,
    spot: Decimal,
    strike: Decimal,
    years: float,
    vol: float,
    *,
    rate: float = 0.0,
    dividend: float = 0.0,
) -> float:
    """Delta of a European option (a ratio, so a float)."""
    s, k = float(spot), float(strike)
    _check(s, k, years, vol)
    return bs_delta_float(option_type, s, k, years, vol, rate, dividend)


def implied_volatility(
    option_type: OptionType,
    premium: Decimal,
    spot: Decimal,
    strike: Decimal,
    years: float,
    *,
    rate: float = 0.0,
    dividend: float = 0.0,
    tolerance: float = 1e-6,
    max_iterations: int = 100,
) -> float:
    """Volatility at which the model premium equals ``premium`` (Newton, bisection fallback).

    Raises ``MarketDataError`` when the premium is outside the no-arbitrage bounds or the
    volatility would exceed ``MAX_VOL`` (500%), and when no time is left (no unique answer).
    """
    s, k, target = float(spot), float(strike), float(premium)
    _check(s, k, years, 0.0)
    if years <= 0:
        raise MarketDataError("no implied volatility at or after expiry", field="expiry")
    lower = bs_price_float(option_type, s, k, years, MIN_VOL, rate, dividend)
    upper = bs_price_float(option_type, s, k, years, MAX_VOL, rate, dividend)
    if not lower - _BOUND_SLACK <= target <= upper + _BOUND_SLACK:
        raise MarketDataError(
            f"premium {premium} outside the no-arbitrage range [{lower:.2f}, {upper:.2f}] for "
            f"{option_type} {strike}",
            field="premium",
        )
    lo, hi = MIN_VOL, MAX_VOL
    vol = 0.2 if lo < 0.2 < hi else (lo + hi) / 2
    for _ in range(max_iterations):
        diff = bs_price_float(option_type, s, k, years, vol, rate, dividend) - target
        if abs(diff) < tolerance:
            return vol
        if diff > 0:
            hi = vol
        else:
            lo = vol
        vega = _vega(s, k, years, vol, rate, dividend)
        step = vol - diff / vega if vega > 1e-12 else -1.0
        vol = step if lo < step < hi else (lo + hi) / 2
    return vol
