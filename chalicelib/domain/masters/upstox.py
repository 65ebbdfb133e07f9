"""Upstox BOD instruments JSON (complete.json / NSE.json / BSE.json) -> instruments.

Objects with segment (NSE_FO/BSE_FO), instrument_type (CE/PE), underlying_symbol, expiry (epoch
ms), strike_price, lot_size, tick_size (paise), freeze_quantity, instrument_key
(``NSE_FO|45450``), trading_symbol. The instrument key is stored as the token: it is what orders
send.
"""

from __future__ import annotations

import json
from decimal import Decimal

from chalicelib.domain.instrument import Broker, Instrument
from chalicelib.domain.market_errors import SymbolError
from chalicelib.domain.masters.common import (
    CONVERSION_ERRORS,
    OPTION_TYPES,
    UNDERLYING_NAMES,
    MasterParseError,
    as_text,
    ist_date_from_epoch,
    make_instrument,
    row_error,
    tick_in_rupees,
    whole,
)
from chalicelib.domain.symbols import parse_upstox_instrument_key

SEGMENTS = frozenset({"NSE_FO", "BSE_FO"})


def parse_upstox_master(data: str | bytes) -> list[Instrument]:
    """Index options of our underlyings from an Upstox instruments JSON."""
    try:
        rows = json.loads(as_text(data))
    except json.JSONDecodeError as exc:
        raise MasterParseError(f"upstox: not valid JSON: {exc}", field="master") from exc
    if not isinstance(rows, list):
        raise MasterParseError("upstox: expected a JSON array", field="master")
    instruments = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise row_error("upstox", i, TypeError("not an object"))
        if (
            row.get("segment") not in SEGMENTS
            or row.get("instrument_type") not in OPTION_TYPES
            or row.get("underlying_symbol") not in UNDERLYING_NAMES
        ):
            continue
        try:
            key = row["instrument_key"]
            parse_upstox_instrument_key(key)
            freeze = row.get("freeze_quantity")
            instruments.append(
                make_instrument(
                    Broker.UPSTOX,
                    row["underlying_symbol"],
                    ist_date_from_epoch(int(row["expiry"]) / 1000),
                    Decimal(str(row["strike_price"])),
                    row["instrument_type"],
                    whole(str(row["lot_size"])),
                    tick_in_rupees(str(row["tick_size"])),
                    str(row["trading_symbol"]),
                    key,
                    whole(str(freeze)) if freeze else None,
                )
            )
        except (*CONVERSION_ERRORS, SymbolError) as exc:
            raise row_error("upstox", i, exc) from exc
    return instruments
