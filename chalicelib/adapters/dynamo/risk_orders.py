"""The risk engine's order store (``ports.risk.RiskOrderStore``) over the execution store.

Reads, events and the intents' conditional transitions are ``ExecutionRepository``'s own (one
place writes order state: ``claim_transitions``); this module adds the two writes the monitor
used to make itself: the BUILT intent items it stores before a claim (``order_items``), and a
stop's new request after a modification at the broker.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from chalicelib.adapters.dynamo.execution_repository import ExecutionRepository
from chalicelib.adapters.dynamo.models import ExecutionItem, OrderItem, PositionItem
from chalicelib.adapters.dynamo.order_items import order_item
from chalicelib.ports.firing import ChildSpec


class RiskOrders:
    """Delegates to the execution store; see ``ports.risk.RiskOrderStore`` for the contract."""

    def __init__(self, executions: ExecutionRepository) -> None:
        self.executions = executions

    # -- reads and events ------------------------------------------------------------------------
    def get_execution(self, uid: str, sk: str) -> ExecutionItem:
        return self.executions.get_execution(uid, sk)

    def add_event(self, execution: ExecutionItem, event: dict[str, Any]) -> None:
        self.executions.add_event(execution, event)

    def orders_of_execution(self, uid: str, execution_sk: str) -> list[OrderItem]:
        return self.executions.orders_of_execution(uid, execution_sk)

    def orders(self, uid: str, trade_date: str, order_ids: list[str]) -> list[OrderItem]:
        return self.executions.orders(uid, trade_date, order_ids)

    def positions(
        self, uid: str, strategy_id: str | None = None, *, consistent: bool = False
    ) -> list[PositionItem]:
        return self.executions.positions(uid, strategy_id, consistent=consistent)

    # -- writes --------------------------------------------------------------------------------
    def put_intents(
        self,
        uid: str,
        execution_sk: str,
        strategy_id: str,
        phase: str,
        children: Sequence[ChildSpec],
        scheduled_at: datetime,
    ) -> list[OrderItem]:
        items = [
            order_item(uid, execution_sk, strategy_id, phase, child, scheduled_at)
            for child in children
        ]
        if items:
            self.executions.put_orders(items)
        return items

    def reprice_order(self, order: OrderItem, trigger: str, limit_price: str) -> None:
        order.request = {**order.request, "trigger": trigger, "limit_price": limit_price}
        self.executions.save_order(order)

    # -- the intents' transitions (``claim_transitions``) ----------------------------------------
    def claim_intent(self, order: OrderItem, sent_at: str) -> bool:
        return self.executions.claim_intent(order, sent_at)

    def abandon_intent(self, order: OrderItem, message: str, at: str) -> bool:
        return self.executions.abandon_intent(order, message, at)

    def intent_never_reached(self, order: OrderItem, message: str, at: str) -> bool:
        return self.executions.intent_never_reached(order, message, at)

    def record_intent_outcome(
        self, order: OrderItem, status: str, entry: dict[str, Any], **fields: Any
    ) -> bool:
        return self.executions.record_intent_outcome(order, status, entry, **fields)
