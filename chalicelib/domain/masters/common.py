"""Shared pieces of the master parsers: decoding, CSV access by header, value conversion."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from chalicelib.domain.calendar import IST
from chalicelib.domain.instrument import (
    Broker,
    BrokerRef,
    ContractKey,
    Instrument,
    normalise_strike,
)
from chalicelib.domain.market_errors import MarketDataError
from chalicelib.domain.underlying import OptionType, Underlying

UNDERLYING_NAMES = frozenset(u.value for u in Underlying)
OPTION_TYPES = frozenset(t.value for t in OptionType)
_ONE_RUPEE = Decimal(1)


class MasterParseError(MarketDataError):
    """An instrument-master file cannot be parsed; the whole file is rejected."""

    code = "master_unparseable"


def as_text(data: str | bytes) -> str:
    """Decode bytes as UTF-8 (with or without BOM)."""
    if isinstance(data, bytes):
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise MasterParseError(f"master is not UTF-8: {exc}", field="master") from exc
    return data.removeprefix("\ufeff")


def csv_rows(text: str) -> Iterator[list[str]]:
    """CSV rows of ``text`` (the csv module handles quoting and CRLF)."""
    return csv.reader(io.StringIO(text))


def header_index(header: Sequence[str], wanted: Sequence[str], source: str) -> list[int]:
    """Column positions of ``wanted`` names in ``header``; a missing column rejects the file."""
    names = [h.strip() for h in header]
    missing = [w for w in wanted if w not in names]
    if missing:
        raise MasterParseError(f"{source}: missing columns {missing}", field="master")
    return [names.index(w) for w in wanted]


def tick_in_rupees(value: str) -> Decimal:
    """Angel, Upstox and Dhan print the tick in paise (5 = Rs 0.05); Kite/Fyers/Noren in rupees.

    No index option has a tick of a rupee or more, so a value >= 1 is read as paise.
    """
    tick = Decimal(value)
    return tick / 100 if tick >= _ONE_RUPEE else tick


def ist_date_from_epoch(seconds: float) -> date:
    """The IST calendar date of an epoch timestamp (Upstox ms / Fyers s, converted by caller)."""
    return datetime.fromtimestamp(seconds, tz=UTC).astimezone(IST).date()


def whole(value: str) -> int:
    """'75', '75.0' -> 75; anything fractional or non-positive is an error."""
    number = Decimal(value)
    if number != number.to_integral_value() or number <= 0:
        raise ValueError(f"not a positive whole number: {value!r}")
    return int(number)


def make_instrument(
    broker: Broker,
    underlying: str,
    expiry: date,
    strike: Decimal,
    option_type: str,
    lot_size: int,
    tick_size: Decimal,
    symbol: str,
    token: str,
    freeze_qty: int | None = None,
    exchange: str | None = None,
) -> Instrument:
    """Build one ``Instrument`` with this broker's reference, validating the numbers.

    ``exchange`` (NFO/BFO) is checked against the underlying: SENSEX rows must be BFO.
    """
    if strike <= 0 or tick_size <= 0:
        raise ValueError("strike and tick must be positive")
    if not symbol or not token:
        raise ValueError("symbol and token are required")
    u = Underlying(underlying)
    if exchange is not None and exchange != u.exchange:
        raise ValueError(f"{u} trades on {u.exchange}, not {exchange}")
    return Instrument(
        key=ContractKey(u, expiry, normalise_strike(strike), OptionType(option_type)),
        exchange=u.exchange,
        lot_size=lot_size,
        tick_size=tick_size,
        refs={broker: BrokerRef(symbol, token)},
        freeze_qty=freeze_qty,
    )


def row_error(source: str, where: int | str, exc: Exception) -> MasterParseError:
    """Wrap a conversion failure with the file and row it came from."""
    return MasterParseError(f"{source}: bad row {where}: {exc}", field="master")


CONVERSION_ERRORS = (ValueError, TypeError, KeyError, IndexError, InvalidOperation, OverflowError)
