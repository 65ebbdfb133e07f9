"""Zerodha Kite ``GET /instruments/NFO`` (and BFO) CSV -> instruments.

Columns: instrument_token, exchange_token, tradingsymbol, name, last_price, expiry (YYYY-MM-DD),
strike, tick_size (rupees), lot_size, instrument_type (CE/PE/FUT), segment, exchange.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from chalicelib.domain.instrument import Broker, Instrument
from chalicelib.domain.masters.common import (
    CONVERSION_ERRORS,
    OPTION_TYPES,
    UNDERLYING_NAMES,
    MasterParseError,
    as_text,
    csv_rows,
    header_index,
    make_instrument,
    row_error,
)

COLUMNS = (
    "instrument_token",
    "tradingsymbol",
    "name",
    "expiry",
    "strike",
    "tick_size",
    "lot_size",
    "instrument_type",
    "exchange",
)


def parse_kite_master(data: str | bytes) -> list[Instrument]:
    """Index options of our underlyings from a Kite instruments CSV."""
    rows = csv_rows(as_text(data))
    header = next(rows, None)
    if header is None:
        raise MasterParseError("kite: empty file", field="master")
    token_i, sym_i, name_i, exp_i, strike_i, tick_i, lot_i, type_i, exch_i = header_index(
        header, COLUMNS, "kite"
    )
    width = len(header)
    instruments = []
    for line, row in enumerate(rows, start=2):
        if len(row) != width:
            if not row:
                continue
            raise MasterParseError(f"kite: row {line} has {len(row)} of {width} columns")
        if row[name_i] not in UNDERLYING_NAMES or row[type_i] not in OPTION_TYPES:
            continue
        try:
            instruments.append(
                make_instrument(
                    Broker.KITE,
                    row[name_i],
                    date.fromisoformat(row[exp_i]),
                    Decimal(row[strike_i]),
                    row[type_i],
                    int(row[lot_i]),
                    Decimal(row[tick_i]),
                    row[sym_i],
                    row[token_i],
                    exchange=row[exch_i],
                )
            )
        except CONVERSION_ERRORS as exc:
            raise row_error("kite", line, exc) from exc
    return instruments
