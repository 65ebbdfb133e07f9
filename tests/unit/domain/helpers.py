"""Shared builders for the domain tests."""

from datetime import date, time

from chalicelib.domain.calendar import RegularHours, TradingCalendar


def weekdays_only_calendar(*years: int, holidays: dict[date, str] | None = None) -> TradingCalendar:
    """A calendar with no holidays (unless given) for years outside the packaged data."""
    hours = [RegularHours(date(2010, 1, 4), time(9, 15), time(15, 30))]
    return TradingCalendar(holidays or {}, years, hours)


def nifty_chain(
    spot: str = "24012.35",
    years: float = 5 / 365,
    atm_vol: float = 0.13,
    rate: float = 0.065,
    step: int = 50,
    width: int = 40,
):
    """A realistic NIFTY chain priced with Black-Scholes and a volatility smile.

    Volatility follows ``smile_vol`` (put skew, as in the Indian index market); premiums are snapped to the 0.05 tick and floored at one tick, like real quotes.
    """
    import math
    from decimal import Decimal

    from chalicelib.domain.money import TICK, Rounding, snap_to_tick
    from chalicelib.domain.option_chain import ChainQuote, OptionChain
    from chalicelib.domain.pricing import bs_price_float
    from chalicelib.domain.underlying import OptionType

    s = float(spot)
    centre = round(s / step) * step
    quotes = []
    for i in range(-width, width + 1):
        k = centre + i * step
        vol = smile_vol(math.log(k / s), atm_vol)
        prices = [
            max(
                snap_to_tick(
                    str(bs_price_float(t, s, k, years, vol, rate, 0.0)), TICK, Rounding.NEAREST
                ),
                Decimal("0.05"),
            )
            for t in (OptionType.CE, OptionType.PE)
        ]
        quotes.append(ChainQuote(Decimal(k), prices[0], prices[1]))
    return OptionChain(quotes)


def smile_vol(log_moneyness: float, atm_vol: float = 0.13) -> float:
    """A skewed smile: OTM puts (k < s) richer than equidistant OTM calls."""
    m = log_moneyness
    return atm_vol - 0.5 * m + 1.5 * m * m
