"""One child order through one adapter, recorded: the OrderItem before, the ack or error after.

Used by settlement (unwinds), exits and the kill switch (square-offs). The order item is written
before the request leaves, so a crash between the two leaves a SENT order that settlement resolves
by tag instead of an order the platform does not know about.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from typing import Any

from chalicelib.adapters.brokers.errors import BrokerError, InvalidOrder, Rejected, Unavailable
from chalicelib.adapters.brokers.port import (
    Broker,
    InvalidRequest,
    OrderRequest,
    OrderType,
    Product,
    Side,
)
from chalicelib.adapters.dynamo.execution_repository import ExecutionRepository
from chalicelib.adapters.dynamo.models import OrderItem
from chalicelib.domain.calendar import IST
from chalicelib.domain.market_model import MarketModel
from chalicelib.services.clock import Clock
from chalicelib.services.order_builder import ChildOrder

log = logging.getLogger(__name__)


def stamp(moment: datetime) -> str:
    return moment.astimezone(IST).isoformat(timespec="milliseconds")


def order_item(
    uid: str,
    execution_sk: str,
    strategy_id: str,
    phase: str,
    child: ChildOrder,
    scheduled_at: datetime,
    order_id: str | None = None,
) -> OrderItem:
    """A BUILT order item for ``child``, linked to its execution through GSI1."""
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
        status="BUILT",
        scheduled_at=stamp(scheduled_at),
        history=[],
    )


def error_doc(error: Exception) -> dict[str, Any]:
    return {
        "kind": getattr(error, "kind", type(error).__name__),
        "code": getattr(error, "code", None),
        "message": str(error),
    }


def order_request(child: ChildOrder, market: MarketModel) -> OrderRequest:
    """The port's request for ``child``: a LIMIT, or a stop-loss LIMIT when it has a trigger."""
    return OrderRequest(
        child.instrument(market),
        Side(child.side),
        child.quantity,
        Product(child.product),
        OrderType.LIMIT if child.trigger is None else OrderType.SL_LIMIT,
        child.limit_price,
        child.tag,
        trigger=child.trigger,
    )


def send(
    adapter: Broker,
    item: OrderItem,
    market: MarketModel,
    executions: ExecutionRepository,
    clock: Clock,
) -> OrderItem:
    """Place ``item`` and record the outcome; never raises for a broker refusal.

    A refusal (RMS, bad input) is terminal: REJECTED. An ambiguous failure the adapter could not
    resolve by tag stays SENT with the error, for settlement to look the tag up again.
    """
    child = ChildOrder.from_dict(item.request)
    item.status = "SENT"
    item.sent_at = stamp(clock())
    executions.save_order(item)
    try:
        ack = adapter.place(order_request(child, market))
    except (Rejected, InvalidOrder, InvalidRequest) as error:
        _refused(item, "REJECTED", error, clock)
    except Unavailable as error:
        item.error = error_doc(error)
        item.history = [*(item.history or []), _entry(clock, "SENT", error_doc(error)["message"])]
    except BrokerError as error:
        _refused(item, "FAILED", error, clock)
    else:
        item.broker_order_id = ack.order_id
        item.acked_at = stamp(clock())
        item.status = "OPEN"
        item.history = [*(item.history or []), _entry(clock, "OPEN", "acknowledged")]
    executions.save_order(item)
    log.info(
        "order sent",
        extra={"account": item.account_id, "tag": item.tag, "status": item.status},
    )
    return item


def _refused(item: OrderItem, status: str, error: Exception, clock: Clock) -> None:
    item.status = status
    item.error = error_doc(error)
    item.history = [*(item.history or []), _entry(clock, status, str(error))]


def _entry(clock: Clock, status: str, message: str) -> dict[str, Any]:
    return {
        "at": stamp(clock()),
        "status": status,
        "filled_quantity": 0,
        "average_price": None,
        "message": message,
    }
