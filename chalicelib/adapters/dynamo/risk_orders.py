"""The risk engine's order store (``ports.risk.RiskOrderStore``) over the execution store.

Reads, events and the intents' conditional transitions are ``ExecutionRepository``'s own (one
place writes order state: ``claim_transitions``); this module adds the two writes the monitor
used to make itself: the BUILT intent items it stores before a claim, and a stop's new request
after a modification at the broker.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from chalicelib.adapters.dynamo.execution_repository import ExecutionRepository
from chalicelib.adapters.dynamo.models import ExecutionItem, OrderItem, PositionItem
from chalicelib.domain.calendar import IST


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
        requests: Sequence[Mapping[str, Any]],
        scheduled_at: datetime,
    ) -> list[OrderItem]:
        items = [
            intent_item(uid, execution_sk, strategy_id, phase, request, scheduled_at)
            for request in requests
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


def intent_item(
    uid: str,
    execution_sk: str,
    strategy_id: str,
    phase: str,
    request: Mapping[str, Any],
    scheduled_at: datetime,
) -> OrderItem:
    """A BUILT risk order for one request document, linked to its execution through GSI1."""
    local = scheduled_at.astimezone(IST)
    order_id = secrets.token_hex(8)
    gsi1pk, gsi1sk = OrderItem.execution_index_key(uid, execution_sk, order_id)
    return OrderItem(
        *OrderItem.key(uid, local.date().isoformat(), order_id),
        gsi1pk=gsi1pk,
        gsi1sk=gsi1sk,
        uid=uid,
        order_id=order_id,
        execution=execution_sk,
        strategy_id=strategy_id,
        phase=phase,
        account_id=str(request["account_id"]),
        broker=str(request["broker"]),
        tag=str(request["tag"]),
        request=dict(request),
        status="BUILT",
        scheduled_at=local.isoformat(timespec="milliseconds"),
        history=[],
    )
