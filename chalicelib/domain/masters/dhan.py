"""Dhan ``api-scrip-master.csv`` -> instruments.

Header columns used: SEM_EXM_EXCH_ID (NSE/BSE), SEM_SMST_SECURITY_ID, SEM_INSTRUMENT_NAME
(OPTIDX), SEM_TRADING_SYMBOL (``NIFTY-Nov2026-23950-CE``), SEM_LOT_UNITS, SEM_EXPIRY_DATE
(``2026-11-24 14:30:00``), SEM_STRIKE_PRICE, SEM_OPTION_TYPE, SEM_TICK_SIZE (paise or rupees).
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
    tick_in_rupees,
    whole,
)

COLUMNS = (
    "SEM_EXM_EXCH_ID",
    "SEM_SMST_SECURITY_ID",
    "SEM_INSTRUMENT_NAME",
    "SEM_TRADING_SYMBOL",
    "SEM_LOT_UNITS",
    "SEM_EXPIRY_DATE",
    "SEM_STRIKE_PRICE",
    "SEM_OPTION_TYPE",
    "SEM_TICK_SIZE",
)
_EXCHANGES = {"NSE": "NFO", "BSE": "BFO"}


def parse_dhan_master(data: str | bytes) -> list[Instrument]:
    """Index options of our underlyings from Dhan's scrip master."""
    rows = csv_rows(as_text(data))
    header = next(rows, None)
    if header is None:
        raise MasterParseError("dhan: empty file", field="master")
    exch_i, id_i, inst_i, sym_i, lot_i, exp_i, strike_i, type_i, tick_i = header_index(
        header, COLUMNS, "dhan"
    )
    width = len(header)
    instruments = []
    for line, row in enumerate(rows, start=2):
        if len(row) != width:
            if not row:
                continue
            raise MasterParseError(f"dhan: row {line} has {len(row)} of {width} columns")
        if row[inst_i] != "OPTIDX" or row[type_i] not in OPTION_TYPES:
            continue
        underlying = row[sym_i].partition("-")[0]
        if underlying not in UNDERLYING_NAMES:
            continue
        try:
            instruments.append(
                make_instrument(
                    Broker.DHAN,
                    underlying,
                    date.fromisoformat(row[exp_i][:10]),
                    Decimal(row[strike_i]),
                    row[type_i],
                    whole(row[lot_i]),
                    tick_in_rupees(row[tick_i]),
                    row[sym_i],
                    row[id_i],
                    exchange=_EXCHANGES.get(row[exch_i], row[exch_i]),
                )
            )
        except CONVERSION_ERRORS as exc:
            raise row_error("dhan", line, exc) from exc
    return instruments
