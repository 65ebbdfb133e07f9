"""Settlement's pure rules: which orders are still to be polled or applied, a leg failure, the
execution's outcome, what an entry holds, and an order's view in a report. No I/O."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from chalicelib.domain import order_lifecycle as lc
from chalicelib.domain.fills import has_unapplied_fill
from chalicelib.domain.records import OrderRecord
from chalicelib.services.closing import Holding, canonical_symbol
from chalicelib.services.order_builder import ChildOrder

TERMINAL = lc.TERMINAL
#: Error code of an order whose tag the broker shows more than once: never guessed.
AMBIGUOUS = "ambiguous_tag"
#: Terminal without the full quantity (a failed leg for the entry's policy).
FAILED = lc.UNFILLED


def resendable(order: OrderRecord) -> bool:
    """A closing order the recovery sweep resends once when the broker never received it."""
    return order.phase in lc.RESENT_PHASES and not order.resent_from


def pending(order: OrderRecord) -> bool:
    """Sent (or possibly sent) and not terminal; BUILT orders were never sent and are nobody's
    to poll (the recovery sweep sends them late or records them missed)."""
    return order.status not in TERMINAL and order.status != lc.BUILT


def unapplied(order: OrderRecord) -> bool:
    """Terminal with a fill that has not reached the position yet."""
    return order.status in TERMINAL and has_unapplied_fill(order)


def leg_failed_after_fill(orders: Sequence[OrderRecord]) -> bool:
    """A leg ended without its full quantity while some quantity of the entry filled."""
    failed = any(
        o.status in FAILED and o.filled_quantity < int(o.request["quantity"]) for o in orders
    )
    return failed and any(o.filled_quantity > 0 for o in orders)


def outcome(orders: Sequence[OrderRecord]) -> str:
    """COMPLETE when every order filled, FAILED when nothing did, PARTIAL otherwise."""
    if orders and all(o.status == "COMPLETE" for o in orders):
        return "COMPLETE"
    if not any(o.filled_quantity > 0 for o in orders):
        return "FAILED"
    return "PARTIAL"


def entry_holdings(orders: Iterable[OrderRecord]) -> list[Holding]:
    """Net filled quantity per (account, contract) of an entry's orders."""
    net: dict[tuple[str, str], int] = {}
    first: dict[tuple[str, str], OrderRecord] = {}
    for order in orders:
        if not order.filled_quantity:
            continue
        child = ChildOrder.from_dict(order.request)
        slot = (order.account_id, canonical_symbol(child.key))
        sign = 1 if child.side == "BUY" else -1
        net[slot] = net.get(slot, 0) + sign * int(order.filled_quantity)
        first.setdefault(slot, order)
    holdings = []
    for slot, quantity in net.items():
        child = ChildOrder.from_dict(first[slot].request)
        holdings.append(
            Holding(
                account_id=child.account_id,
                broker=first[slot].broker,
                key=child.key,
                exchange=child.exchange,
                lot_size=child.lot_size,
                tick_size=child.tick_size,
                product=child.product,
                net_quantity=quantity,
            )
        )
    return holdings


def order_views(orders: Iterable[OrderRecord]) -> list[dict[str, Any]]:
    return [
        {
            "order_id": o.order_id,
            "account_id": o.account_id,
            "tag": o.tag,
            "side": o.request["side"],
            "quantity": int(o.request["quantity"]),
            "status": o.status,
            "filled_quantity": int(o.filled_quantity),
            "average_price": o.average_price,
        }
        for o in orders
    ]
