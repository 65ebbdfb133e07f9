"""Noren OMS (Shoonya, Zebu) ``NFO_symbols.txt`` / ``BFO_symbols.txt`` -> instruments.

Comma-separated with a header (and a trailing comma on every line): Exchange, Token, LotSize,
Symbol, TradingSymbol (``NIFTY24NOV26C23950``), Expiry (``24-NOV-2026``), Instrument (OPTIDX),
OptionType, StrikePrice, TickSize (rupees).
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
    whole,
)
from chalicelib.domain.symbols import MONTHS

COLUMNS = (
    "Token",
    "LotSize",
    "Symbol",
    "TradingSymbol",
    "Expiry",
    "Instrument",
    "OptionType",
    "StrikePrice",
    "TickSize",
)


def _expiry(text: str) -> date:
    day, month, year = text.split("-")
    return date(int(year), MONTHS.index(month.upper()) + 1, int(day))


def parse_noren_master(data: str | bytes) -> list[Instrument]:
    """Index options of our underlyings from a Noren symbols file."""
    rows = csv_rows(as_text(data))
    header = next(rows, None)
    if header is None:
        raise MasterParseError("noren: empty file", field="master")
    token_i, lot_i, und_i, sym_i, exp_i, inst_i, type_i, strike_i, tick_i = header_index(
        header, COLUMNS, "noren"
    )
    width = len(header)
    instruments = []
    for line, row in enumerate(rows, start=2):
        if len(row) != width:
            if not row:
                continue
            raise MasterParseError(f"noren: row {line} has {len(row)} of {width} columns")
        if row[inst_i] != "OPTIDX" or row[und_i] not in UNDERLYING_NAMES:
            continue
        if row[type_i] not in OPTION_TYPES:
            raise row_error("noren", line, ValueError(f"option type {row[type_i]!r}"))
        try:
            instruments.append(
                make_instrument(
                    Broker.NOREN,
                    row[und_i],
                    _expiry(row[exp_i]),
                    Decimal(row[strike_i]),
                    row[type_i],
                    whole(row[lot_i]),
                    Decimal(row[tick_i]),
                    row[sym_i],
                    row[token_i],
                )
            )
        except CONVERSION_ERRORS as exc:
            raise row_error("noren", line, exc) from exc
    return instruments
