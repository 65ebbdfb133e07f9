"""Fill arithmetic: how much of an order's fill its position already holds, and what a fill adds
to a position. Pure: the execution store applies it inside its transaction (the DynamoDB adapter
and the in-memory fake alike), settlement and recovery read ``applied_so_far`` to know whether an
order still has a fill to apply (docs/order-lifecycle.md, "Fills, exactly once per fill")."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from chalicelib.domain.records import OrderRecord, PositionRecord


def applied_so_far(order: OrderRecord) -> tuple[int, Decimal]:
    """The order's cumulative quantity (and value) already in its position. Orders stored
    before fills were tracked carry only the ``applied`` flag: all of their fill, then."""
    if order.applied_quantity is not None:
        return int(order.applied_quantity), Decimal(order.applied_value or "0")
    if order.applied:
        price = Decimal(order.average_price or order.request.get("limit_price") or "0")
        return int(order.filled_quantity), price * int(order.filled_quantity)
    return 0, Decimal(0)


def has_unapplied_fill(order: OrderRecord) -> bool:
    """The broker reported more filled quantity than the position holds for this order."""
    return int(order.filled_quantity) > applied_so_far(order)[0]


def add_fill(position: PositionRecord, side: str, quantity: int, value: Decimal) -> None:
    """``quantity`` units bought (BUY) or sold for ``value`` rupees, into ``position``: for a
    store to apply before it writes the position (under its version)."""
    if side == "BUY":
        position.net_quantity += quantity
        position.buy_quantity += quantity
        position.buy_value = str(Decimal(position.buy_value) + value)
    else:
        position.net_quantity -= quantity
        position.sell_quantity += quantity
        position.sell_value = str(Decimal(position.sell_value) + value)


def keep_applied(
    order: OrderRecord, quantity: int, value: Decimal, fills: list[Any] | None = None
) -> None:
    """Note on the in-memory ``order`` the level its position holds (as the store wrote or
    found it): ``applied`` is 1 once the whole reported fill is in."""
    order.applied_quantity = quantity
    order.applied_value = str(value)
    order.applied = 1 if quantity >= int(order.filled_quantity or 0) else 0
    if fills is not None:
        order.fills = fills
