"""Angel One SmartAPI scrip master JSON -> instruments.

A JSON array of objects: token, symbol (``NIFTY04APR2423000CE``), name, expiry (``04APR2024``,
month case varies), strike (x100), lotsize, instrumenttype (OPTIDX), exch_seg (NFO/BFO),
tick_size (paise).
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from chalicelib.domain.instrument import Broker, Instrument
from chalicelib.domain.masters.common import (
    CONVERSION_ERRORS,
    UNDERLYING_NAMES,
    MasterParseError,
    as_text,
    make_instrument,
    row_error,
    tick_in_rupees,
    whole,
)
from chalicelib.domain.symbols import MONTHS

_HUNDRED = Decimal(100)


def _expiry(text: str) -> date:
    return date(int(text[5:9]), MONTHS.index(text[2:5].upper()) + 1, int(text[0:2]))


def parse_angel_master(data: str | bytes) -> list[Instrument]:
    """Index options of our underlyings from Angel's OpenAPIScripMaster.json."""
    try:
        rows = json.loads(as_text(data))
    except json.JSONDecodeError as exc:
        raise MasterParseError(f"angel: not valid JSON: {exc}", field="master") from exc
    if not isinstance(rows, list):
        raise MasterParseError("angel: expected a JSON array", field="master")
    instruments = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise row_error("angel", i, TypeError("not an object"))
        if row.get("instrumenttype") != "OPTIDX" or row.get("name") not in UNDERLYING_NAMES:
            continue
        try:
            symbol = row["symbol"]
            instruments.append(
                make_instrument(
                    Broker.ANGEL,
                    row["name"],
                    _expiry(row["expiry"]),
                    Decimal(row["strike"]) / _HUNDRED,
                    symbol[-2:],
                    whole(row["lotsize"]),
                    tick_in_rupees(row["tick_size"]),
                    symbol,
                    str(row["token"]),
                )
            )
        except CONVERSION_ERRORS as exc:
            raise row_error("angel", i, exc) from exc
    return instruments
