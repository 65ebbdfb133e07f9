"""The normalised option contract and the instrument master that lists them.

Every broker publishes the same exchange contracts in its own dialect; parsers in
``domain.masters`` turn each into ``Instrument`` values with one identity (``ContractKey``) and the
broker's own symbol and token in ``refs``. ``InstrumentMaster`` indexes them for the lookups order
building needs: a contract by key, the listed strikes of a series, the listed expiries.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from chalicelib.domain.market_errors import MarketDataError, NoSuchStrike
from chalicelib.domain.underlying import Exchange, OptionType, Underlying


class Broker(StrEnum):
    """Broker dialects for symbols and tokens (Shoonya and Zebu share the Noren dialect)."""

    KITE = "kite"
    ANGEL = "angel"
    UPSTOX = "upstox"
    FYERS = "fyers"
    DHAN = "dhan"
    NOREN = "noren"


@dataclass(frozen=True, slots=True, order=True)
class ContractKey:
    """What identifies an index option regardless of broker."""

    underlying: Underlying
    expiry: date
    strike: Decimal
    option_type: OptionType


@dataclass(frozen=True, slots=True)
class BrokerRef:
    """A broker's name for a contract: its trading symbol and its token / security id / key."""

    symbol: str
    token: str


@dataclass(frozen=True, slots=True)
class Instrument:
    """One listed option contract, normalised, with the broker references known for it."""

    key: ContractKey
    exchange: Exchange
    lot_size: int
    tick_size: Decimal
    refs: Mapping[Broker, BrokerRef] = field(default_factory=dict)
    freeze_qty: int | None = None

    @property
    def underlying(self) -> Underlying:
        return self.key.underlying

    @property
    def expiry(self) -> date:
        return self.key.expiry

    @property
    def strike(self) -> Decimal:
        return self.key.strike

    @property
    def option_type(self) -> OptionType:
        return self.key.option_type

    def ref(self, broker: Broker) -> BrokerRef:
        """This contract's symbol and token at ``broker``, or ``MarketDataError``."""
        try:
            return self.refs[broker]
        except KeyError:
            raise MarketDataError(
                f"no {broker} reference for {self.key} (load that broker's master)", field="broker"
            ) from None


def normalise_strike(strike: Decimal) -> Decimal:
    """One spelling per strike value ("23950.00" -> 23950, "10275.50" -> 10275.5)."""
    if strike == strike.to_integral_value():
        return strike.quantize(Decimal(1))
    return strike.normalize()


class DuplicateContract(MarketDataError):
    """Two rows of one master describe the same contract."""

    code = "master_duplicate"


class InstrumentMaster:
    """An immutable index of listed contracts, built once per master file."""

    def __init__(self, instruments: Iterable[Instrument], *, source: str = "") -> None:
        self.source = source
        index: dict[ContractKey, Instrument] = {}
        series: dict[tuple[Underlying, date], set[Decimal]] = {}
        samples: dict[tuple[Underlying, date], Instrument] = {}
        for instrument in instruments:
            if instrument.key in index:
                raise DuplicateContract(f"{source}: {instrument.key} listed twice", field="master")
            index[instrument.key] = instrument
            series_key = (instrument.underlying, instrument.expiry)
            series.setdefault(series_key, set()).add(instrument.strike)
            samples.setdefault(series_key, instrument)
        self._index = index
        self._samples = samples
        self._strikes = {k: tuple(sorted(v)) for k, v in series.items()}
        expiries: dict[Underlying, set[date]] = {}
        for underlying, expiry in series:
            expiries.setdefault(underlying, set()).add(expiry)
        self._expiries = {u: tuple(sorted(v)) for u, v in expiries.items()}
        self._monthlies = {u: _last_per_month(dates) for u, dates in self._expiries.items()}

    def __len__(self) -> int:
        return len(self._index)

    def __iter__(self) -> Iterator[Instrument]:
        return iter(self._index.values())

    def underlyings(self) -> frozenset[Underlying]:
        """Underlyings with at least one listed contract."""
        return frozenset(self._expiries)

    def get(self, key: ContractKey) -> Instrument | None:
        """The contract for ``key`` or None."""
        return self._index.get(key)

    def instrument(
        self, underlying: Underlying, expiry: date, strike: Decimal, option_type: OptionType
    ) -> Instrument:
        """The listed contract, or ``NoSuchStrike`` naming what is missing."""
        found = self._index.get(ContractKey(underlying, expiry, strike, option_type))
        if found is None:
            raise NoSuchStrike(
                f"{underlying} {expiry} {strike} {option_type} is not in the master", field="strike"
            )
        return found

    def expiries(self, underlying: Underlying) -> tuple[date, ...]:
        """Listed expiries of ``underlying``, oldest first (empty when not in this master)."""
        return self._expiries.get(underlying, ())

    def monthly_expiries(self, underlying: Underlying) -> tuple[date, ...]:
        """The last listed expiry of each month: the monthly contracts (Kite's monthly form)."""
        return self._monthlies.get(underlying, ())

    def strikes(self, underlying: Underlying, expiry: date) -> tuple[Decimal, ...]:
        """Listed strikes of one series, ascending (empty when the series is not listed)."""
        return self._strikes.get((underlying, expiry), ())

    def series_sample(self, underlying: Underlying, expiry: date) -> Instrument | None:
        """Any one contract of the series (its lot and tick are the series'), or None."""
        return self._samples.get((underlying, expiry))


def _last_per_month(dates: tuple[date, ...]) -> tuple[date, ...]:
    last: dict[tuple[int, int], date] = {}
    for d in dates:
        last[(d.year, d.month)] = max(d, last.get((d.year, d.month), d))
    return tuple(sorted(last.values()))
