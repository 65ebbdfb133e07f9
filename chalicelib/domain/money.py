"""Decimal helpers for prices and quantities.

Prices travel as Decimal so that 0.05 ticks stay exact (0.1 + 0.2 != 0.3 in binary floats, and an
exchange rejects a limit price that is not a multiple of the tick). Converting from float goes
through ``str`` so that 101.15 stays 101.15 and does not become 101.1499999....
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum

from chalicelib.domain.market_errors import InvalidRuleValue

TICK = Decimal("0.05")


class Rounding(StrEnum):
    """Which way to snap a price onto the tick grid."""

    UP = "up"
    DOWN = "down"
    NEAREST = "nearest"


_MODES = {Rounding.UP: ROUND_CEILING, Rounding.DOWN: ROUND_FLOOR, Rounding.NEAREST: ROUND_HALF_UP}


def to_decimal(value: Decimal | int | float | str, *, field: str = "value") -> Decimal:
    """Convert to a finite Decimal, via ``str`` for floats; raise ``InvalidRuleValue`` otherwise."""
    if isinstance(value, bool):
        raise InvalidRuleValue(f"{field} must be a number, not a boolean", field=field)
    try:
        result = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise InvalidRuleValue(f"{field} is not a number: {value!r}", field=field) from exc
    if not result.is_finite():
        raise InvalidRuleValue(f"{field} must be finite: {value!r}", field=field)
    return result


def snap_to_tick(
    price: Decimal | int | float | str,
    tick: Decimal = TICK,
    direction: Rounding = Rounding.NEAREST,
) -> Decimal:
    """Snap ``price`` onto a multiple of ``tick`` (UP = ceiling, DOWN = floor, NEAREST half-up).

    The result is quantized to the tick's exponent so that it prints as the exchange expects
    ("101.15", not "101.1500").
    """
    value = to_decimal(price, field="price")
    if tick <= 0:
        raise InvalidRuleValue(f"tick must be positive, got {tick}", field="tick")
    steps = (value / tick).quantize(Decimal(1), rounding=_MODES[direction])
    return (steps * tick).quantize(tick)


def is_on_tick(price: Decimal, tick: Decimal = TICK) -> bool:
    """True when ``price`` is an exact multiple of ``tick``."""
    return price % tick == 0
