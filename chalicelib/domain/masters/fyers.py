"""Fyers symbol master CSV (``NSE_FO.csv`` / ``BSE_FO.csv``, no header) -> instruments.

Columns by position: 0 fytoken, 1 symbol details, 2 exchange instrument type, 3 lot size,
4 tick size (rupees), 5 ISIN, 6 trading session, 7 last update, 8 expiry (epoch seconds),
9 symbol ticker (``NSE:NIFTY26N2423950CE``), 10 exchange, 11 segment, 12 scrip code,
13 underlying symbol, 14 underlying scrip code, 15 strike, 16 option type (CE/PE/XX), 17+ more.
"""

from __future__ import annotations

from decimal import Decimal

from chalicelib.domain.instrument import Broker, Instrument
from chalicelib.domain.masters.common import (
    CONVERSION_ERRORS,
    OPTION_TYPES,
    UNDERLYING_NAMES,
    MasterParseError,
    as_text,
    csv_rows,
    ist_date_from_epoch,
    make_instrument,
    row_error,
    whole,
)

MIN_COLUMNS = 17


def parse_fyers_master(data: str | bytes) -> list[Instrument]:
    """Index options of our underlyings from a Fyers F&O symbol master."""
    instruments = []
    width = None
    for line, row in enumerate(csv_rows(as_text(data)), start=1):
        if not row:
            continue
        width = width or len(row)
        if len(row) < MIN_COLUMNS or len(row) != width:
            raise MasterParseError(f"fyers: row {line} has {len(row)} columns", field="master")
        if row[13] not in UNDERLYING_NAMES or row[16] not in OPTION_TYPES:
            continue
        try:
            instruments.append(
                make_instrument(
                    Broker.FYERS,
                    row[13],
                    ist_date_from_epoch(int(row[8])),
                    Decimal(row[15]),
                    row[16],
                    whole(row[3]),
                    Decimal(row[4]),
                    row[9],
                    row[0],
                )
            )
        except CONVERSION_ERRORS as exc:
            raise row_error("fyers", line, exc) from exc
    return instruments
