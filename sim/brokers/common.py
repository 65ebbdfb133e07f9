"""Small helpers the dialect modules share: parsing numbers from forms and JSON, timestamps."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from werkzeug.wrappers import Request

from chalicelib.domain.calendar import IST


class BadInput(ValueError):
    """A request field is missing or malformed (the dialect answers its input error)."""


def decimal_field(body: dict[str, Any], name: str, default: str = "0") -> Decimal:
    """A price field as Decimal (forms send strings, JSON may send numbers)."""
    raw = body.get(name)
    if raw is None or raw == "":
        raw = default
    try:
        return Decimal(str(raw))
    except InvalidOperation:
        raise BadInput(f"Invalid `{name}`.") from None


def int_field(body: dict[str, Any], name: str) -> int:
    """A quantity field as int."""
    raw = body.get(name)
    try:
        value = Decimal(str(raw))
    except (InvalidOperation, TypeError):
        raise BadInput(f"Invalid `{name}`.") from None
    if value != value.to_integral_value():
        raise BadInput(f"Invalid `{name}`.")
    return int(value)


def required(body: dict[str, Any], name: str) -> str:
    """A required string field."""
    value = body.get(name)
    if value is None or str(value) == "":
        raise BadInput(f"Missing `{name}`.")
    return str(value)


def ist_text(moment: datetime) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in IST (Kite, Angel, Upstox, Dhan timestamps)."""
    return moment.astimezone(IST).strftime("%Y-%m-%d %H:%M:%S")


def money(value: Decimal) -> float:
    """Prices in JSON bodies are numbers at every broker."""
    return float(value)


def json_body(request: Request) -> dict[str, Any]:
    """A request's JSON object body (Upstox, Fyers, Dhan); anything else is the dialect's input error."""
    try:
        body = json.loads(request.get_data(as_text=True) or "{}")
    except json.JSONDecodeError:
        raise BadInput("Invalid JSON body") from None
    if not isinstance(body, dict):
        raise BadInput("Invalid JSON body")
    return body


def basket_requirement(
    exchange: Any,
    rows: Any,
    instrument: Callable[[dict[str, Any]], str],
    side: Callable[[dict[str, Any]], str],
    quantity: str,
    price: str,
) -> Any:
    """What a margin endpoint's order rows block together (``sim.margin`` through the
    exchange). ``BadInput`` for a row that is not an order; ``OrderRefused`` for an unknown
    instrument."""
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        raise BadInput("Invalid orders")
    legs = []
    for row in rows:
        raw = row.get(price)
        value = decimal_field(row, price) if raw not in (None, "", 0, "0") else None
        legs.append((instrument(row), side(row), int_field(row, quantity), value or None))
    return exchange.basket_margin(legs)
