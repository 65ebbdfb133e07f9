"""Deterministic prices and listings for the simulated exchange.

Spot follows a seeded random walk: each trading date has an opening level and a per-minute path
drawn from ``random.Random(f"{seed}|{underlying}|{date}|...")`` (string seeds hash the same in
every process), interpolated to the second. So a price depends only on (seed, underlying, time):
a restart, a second process or a replayed test sees the same market. Options are priced with
Black-Scholes (``chalicelib.domain.pricing``) on a volatility smile and snapped to the 0.05 tick.

Listings come from the market model: listed expiries from the expiry rules and holiday calendar,
lot sizes and freeze limits from the dated data, strikes on the real grid around the day's open.
Every contract gets one numeric token (the same in every dialect's master) and each broker's
symbol from ``chalicelib.domain.symbols``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache

from chalicelib.domain.calendar import IST
from chalicelib.domain.contracts import default_contract_rules
from chalicelib.domain.expiry import default_expiry_rules, listed_expiries
from chalicelib.domain.instrument import Broker, BrokerRef, ContractKey, Instrument
from chalicelib.domain.money import TICK, Rounding, snap_to_tick
from chalicelib.domain.pricing import bs_price_float
from chalicelib.domain.symbols import (
    MONTHS,
    angel_symbol,
    format_strike,
    fyers_symbol,
    kite_symbol,
    noren_symbol,
    upstox_instrument_key,
)
from chalicelib.domain.underlying import OptionType, Underlying

#: The five indices the platform trades, with a reference level and an at-the-money volatility.
UNDERLYINGS: dict[Underlying, tuple[Decimal, float]] = {
    Underlying.NIFTY: (Decimal("24000"), 0.13),
    Underlying.BANKNIFTY: (Decimal("52000"), 0.15),
    Underlying.FINNIFTY: (Decimal("24500"), 0.14),
    Underlying.MIDCPNIFTY: (Decimal("12500"), 0.17),
    Underlying.SENSEX: (Decimal("80000"), 0.13),
}
_INDEX = {u: i + 1 for i, u in enumerate(UNDERLYINGS)}
#: Strikes listed each side of the day's open.
STRIKES_EACH_SIDE = 40
_OPEN, _CLOSE = time(9, 15), time(15, 40)
_MINUTES = (_CLOSE.hour * 60 + _CLOSE.minute) - (_OPEN.hour * 60 + _OPEN.minute)
_YEAR_SECONDS = 365.0 * 86400
_EPOCH = date(2020, 1, 1)


def _rng(*parts: object) -> random.Random:
    return random.Random("|".join(str(p) for p in parts))


@lru_cache(maxsize=256)
def _day_path(seed: int, underlying: Underlying, day: date) -> tuple[float, ...]:
    """Spot at each minute of ``day`` from 09:15 (index 0) to 15:40 (the last index)."""
    base, vol = UNDERLYINGS[underlying]
    level = float(base) * math.exp(0.02 * _rng(seed, underlying, day, "open").gauss(0, 1))
    minute_vol = vol / math.sqrt(252 * _MINUTES)
    steps = _rng(seed, underlying, day, "walk")
    path = [level]
    for _ in range(_MINUTES):
        level *= math.exp(minute_vol * steps.gauss(0, 1))
        path.append(level)
    return tuple(path)


def spot_at(seed: int, underlying: Underlying, moment: datetime) -> Decimal:
    """Index level at ``moment`` (flat before the open and after the close), on the tick."""
    local = moment.astimezone(IST)
    path = _day_path(seed, underlying, local.date())
    opened = datetime.combine(local.date(), _OPEN, IST)
    seconds = min(max((local - opened).total_seconds(), 0.0), _MINUTES * 60.0)
    minute, fraction = divmod(seconds, 60.0)
    index = int(minute)
    value = path[index]
    if index < _MINUTES:
        value += (path[index + 1] - value) * fraction / 60.0
    return snap_to_tick(Decimal(repr(value)), TICK, Rounding.NEAREST)


def smile_vol(underlying: Underlying, spot: float, strike: float, years: float) -> float:
    """ATM vol bent into a smile with a put skew, by moneyness in standard deviations."""
    atm = UNDERLYINGS[underlying][1]
    width = atm * math.sqrt(max(years, 1 / 365))
    x = max(-4.0, min(4.0, math.log(strike / spot) / width))
    return atm * (1 + 0.04 * x * x - 0.03 * x)


def expiry_moment(expiry: date) -> datetime:
    """Options stop trading at 15:30 IST on expiry day."""
    return datetime.combine(expiry, time(15, 30), IST)


def option_price(key: ContractKey, spot: Decimal, moment: datetime) -> Decimal:
    """Black-Scholes premium on the smile, snapped to the tick, never below one tick."""
    years = max((expiry_moment(key.expiry) - moment).total_seconds(), 0.0) / _YEAR_SECONDS
    s, k = float(spot), float(key.strike)
    vol = smile_vol(key.underlying, s, k, years)
    premium = bs_price_float(key.option_type, s, k, years, vol, 0.0, 0.0)
    return max(snap_to_tick(Decimal(repr(premium)), TICK, Rounding.NEAREST), TICK)


def contract_token(key: ContractKey) -> str:
    """One numeric token per contract, stable across days and processes."""
    days = (key.expiry - _EPOCH).days
    strike = int(key.strike * 20)
    kind = 1 if key.option_type is OptionType.CE else 2
    return f"{_INDEX[key.underlying]}{days:05d}{strike:07d}{kind}"


def dhan_symbol(key: ContractKey) -> str:
    """Dhan's trading symbol, e.g. ``NIFTY-Nov2026-23950-CE``."""
    month = MONTHS[key.expiry.month - 1].title()
    return (
        f"{key.underlying}-{month}{key.expiry.year}-{format_strike(key.strike)}-{key.option_type}"
    )


def upstox_trading_symbol(key: ContractKey) -> str:
    """Upstox's trading symbol, e.g. ``NIFTY 23950 CE 24 NOV 26``."""
    e = key.expiry
    return (
        f"{key.underlying} {format_strike(key.strike)} {key.option_type} "
        f"{e.day:02d} {MONTHS[e.month - 1]} {e.year % 100:02d}"
    )


@dataclass(frozen=True, slots=True)
class Listing:
    """What is listed on one date: contracts and a lookup from every broker name to a contract."""

    day: date
    instruments: tuple[Instrument, ...]
    by_name: dict[str, Instrument]

    def find(self, name: str) -> Instrument | None:
        """A contract by any broker symbol or token (case-insensitive symbols)."""
        return self.by_name.get(name) or self.by_name.get(name.strip().upper())


def _refs(key: ContractKey, token: str, monthly: bool) -> dict[Broker, BrokerRef]:
    return {
        Broker.KITE: BrokerRef(kite_symbol(key, monthly=monthly), token),
        Broker.FYERS: BrokerRef(fyers_symbol(key, monthly=monthly), token),
        Broker.ANGEL: BrokerRef(angel_symbol(key), token),
        Broker.NOREN: BrokerRef(noren_symbol(key), token),
        Broker.UPSTOX: BrokerRef(
            upstox_trading_symbol(key), upstox_instrument_key(key.underlying.exchange, token)
        ),
        Broker.DHAN: BrokerRef(dhan_symbol(key), token),
    }


@lru_cache(maxsize=4096)
def instrument_for(key: ContractKey) -> Instrument:
    """Any contract with its broker references (orders outlive the day they were listed on).

    Lot size and freeze limit are those in force on the expiry date; the listing of a trading day
    carries the ones of that day.
    """
    spec = default_contract_rules().spec(key.underlying, key.expiry, key.expiry)
    monthly = default_expiry_rules().is_monthly(key.underlying, key.expiry)
    refs = _refs(key, contract_token(key), monthly)
    return Instrument(
        key, key.underlying.exchange, spec.lot_size, spec.tick_size, refs, spec.freeze_qty
    )


@lru_cache(maxsize=16)
def listing_for(seed: int, day: date) -> Listing:
    """Contracts listed on ``day``: real expiries, lot sizes and strike grid, tokens, symbols."""
    rules, expiry_rules = default_contract_rules(), default_expiry_rules()
    instruments: list[Instrument] = []
    for underlying in UNDERLYINGS:
        opening = Decimal(repr(_day_path(seed, underlying, day)[0]))
        for expiry in listed_expiries(underlying, day):
            spec = rules.spec(underlying, expiry.date, day)
            step = spec.strike_step
            centre = (opening / step).to_integral_value() * step
            monthly = expiry_rules.is_monthly(underlying, expiry.date)
            for i in range(-STRIKES_EACH_SIDE, STRIKES_EACH_SIDE + 1):
                for option_type in OptionType:
                    key = ContractKey(underlying, expiry.date, centre + i * step, option_type)
                    token = contract_token(key)
                    instruments.append(
                        Instrument(
                            key,
                            underlying.exchange,
                            spec.lot_size,
                            spec.tick_size,
                            _refs(key, token, monthly),
                            spec.freeze_qty,
                        )
                    )
    by_name: dict[str, Instrument] = {}
    for instrument in instruments:
        for ref in instrument.refs.values():
            by_name.setdefault(ref.symbol, instrument)
            by_name.setdefault(ref.token, instrument)
    return Listing(day, tuple(instruments), by_name)


def previous_day(d: date) -> date:
    """The calendar day before ``d`` (masters are published for the session ahead)."""
    return d - timedelta(days=1)
