"""New order items: the record of a BUILT child order, keyed for its day and its execution.

Key construction belongs to the entity (``OrderItem.key`` / ``execution_index_key``); this is the
one place that fills a new item from a planned child order, for the planner, exits, unwinds,
risk intents and square-offs. ``DynamoNewOrders`` is the same as the ``NewOrders`` port
(``ports/firing.py``) for services that take it injected.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from chalicelib.adapters.dynamo.models import OrderItem
from chalicelib.domain import order_lifecycle as lc
from chalicelib.domain.calendar import IST
from chalicelib.ports.firing import ChildSpec


def order_item(
    uid: str,
    execution_sk: str,
    strategy_id: str,
    phase: str,
    child: ChildSpec,
    scheduled_at: datetime,
    order_id: str | None = None,
) -> OrderItem:
    """A BUILT order item for ``child``, linked to its execution through GSI1 (not stored yet)."""
    trade_date = scheduled_at.astimezone(IST).date().isoformat()
    order_id = order_id or secrets.token_hex(8)
    gsi1pk, gsi1sk = OrderItem.execution_index_key(uid, execution_sk, order_id)
    return OrderItem(
        *OrderItem.key(uid, trade_date, order_id),
        gsi1pk=gsi1pk,
        gsi1sk=gsi1sk,
        uid=uid,
        order_id=order_id,
        execution=execution_sk,
        strategy_id=strategy_id,
        phase=phase,
        account_id=child.account_id,
        broker=child.broker,
        tag=child.tag,
        request=child.to_dict(),
        status=lc.BUILT,
        scheduled_at=scheduled_at.astimezone(IST).isoformat(timespec="milliseconds"),
        history=[],
    )


class DynamoNewOrders:
    """``NewOrders`` for the DynamoDB store."""

    def new_order(
        self,
        uid: str,
        execution_sk: str,
        strategy_id: str,
        phase: str,
        child: ChildSpec,
        scheduled_at: datetime,
        order_id: str | None = None,
    ) -> OrderItem:
        return order_item(uid, execution_sk, strategy_id, phase, child, scheduled_at, order_id)
