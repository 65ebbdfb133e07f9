"""The firer's hook at an exit: protective orders are cancelled before the exit orders leave.

Exit orders are built a little before T from the positions; between then and T a stop may have
filled at the broker or the monitor may have closed a leg on its target. At T, in the account's
own worker, the hook freezes the strategy's risk book (the monitor stops acting), cancels and
settles the open stop / risk orders, re-reads the positions and trims every exit order to what is
really still held: a position is never closed twice and no stop fires on a closed position.
Strategies without a risk book cost one read.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import Any

from chalicelib.adapters.brokers.port import OrderRequest
from chalicelib.adapters.dynamo.models import OrderItem
from chalicelib.adapters.dynamo.repository import now_iso
from chalicelib.domain.calendar import IST
from chalicelib.services.closing import canonical_symbol
from chalicelib.services.order_builder import ChildOrder
from chalicelib.services.risk_engine import RiskEngine

log = logging.getLogger(__name__)


@dataclasses.dataclass
class ExitGuard:
    engine: RiskEngine

    def __call__(
        self, orders: Sequence[OrderItem], requests: Sequence[OrderRequest], adapter: Any
    ) -> tuple[list[OrderItem], list[OrderRequest]]:
        exits = [o for o in orders if o.phase == "EXIT"]
        if not exits:
            return list(orders), list(requests)
        first = exits[0]
        on = self.engine.clock().astimezone(IST).date()
        strategies = sorted({o.strategy_id for o in exits})
        held = self.engine.freeze_for_exit(first.uid, first.account_id, strategies, on)
        if not held:
            return list(orders), list(requests)
        left = {(s, symbol): net for s, symbols in held.items() for symbol, net in symbols.items()}
        kept: list[OrderItem] = []
        kept_requests: list[OrderRequest] = []
        for order, request in zip(orders, requests, strict=True):
            if order.phase != "EXIT" or order.strategy_id not in held:
                kept.append(order)
                kept_requests.append(request)
                continue
            child = ChildOrder.from_dict(order.request)
            slot = (order.strategy_id, canonical_symbol(child.key))
            net = left.get(slot, 0)
            closes = -net if child.side == "BUY" else net  # units this side can still close
            quantity = min(child.quantity, max(closes, 0))
            if quantity <= 0:
                self._skip(order)
                continue
            left[slot] = net + (quantity if child.side == "BUY" else -quantity)
            if quantity != child.quantity:
                order.request = {**order.request, "quantity": quantity}
                request = dataclasses.replace(request, quantity=quantity)
                order.update(actions=[OrderItem.request.set(order.request)])
            kept.append(order)
            kept_requests.append(request)
        return kept, kept_requests

    def _skip(self, order: OrderItem) -> None:
        """Nothing left to close: the stop or the monitor closed it first. Never sent."""
        message = "not sent: the position was already closed by its stop-loss or target"
        log.info("exit order trimmed", extra={"order": order.order_id})
        order.update(
            actions=[
                OrderItem.status.set("CANCELLED"),
                OrderItem.error.set({"code": "already_closed", "message": message}),
                OrderItem.history.set(
                    [{"at": now_iso(), "status": "CANCELLED", "message": message}]
                ),
                OrderItem.updated_at.set(now_iso()),
            ]
        )
        order.status = "CANCELLED"
