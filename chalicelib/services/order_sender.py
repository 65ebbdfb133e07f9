"""One child order through one adapter, recorded: the order before, the ack or error after.

Used by settlement (unwinds), exits and the kill switch (square-offs). The order item is written
before the request leaves, so a crash between the two leaves a SENT order that settlement and the
recovery sweep resolve by tag instead of an order the platform does not know about.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from chalicelib.domain import order_lifecycle as lc
from chalicelib.domain.calendar import IST
from chalicelib.domain.market_model import MarketModel
from chalicelib.domain.records import OrderRecord
from chalicelib.ports.broker import (
    Broker,
    InvalidRequest,
    OrderRequest,
    OrderType,
    Product,
    Side,
)
from chalicelib.ports.broker_errors import BrokerError, InvalidOrder, Rejected, Unavailable
from chalicelib.ports.firing import OrderOutcomes
from chalicelib.services.clock import Clock
from chalicelib.services.order_builder import ChildOrder

log = logging.getLogger(__name__)
#: (step, order) -> None at each lifecycle step; the fault-matrix tests raise here (a crash).
Checkpoint = Callable[[str, OrderRecord], None]


def _no_checkpoint(step: str, order: OrderRecord) -> None:
    return None


def stamp(moment: datetime) -> str:
    return moment.astimezone(IST).isoformat(timespec="milliseconds")


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
    item: OrderRecord,
    market: MarketModel,
    executions: OrderOutcomes,
    clock: Clock,
    checkpoint: Checkpoint | None = None,
) -> OrderRecord:
    """Place ``item`` and record the outcome through the store's lifecycle operations; never
    raises for a broker refusal or an unexpected failure of one order.

    Written ahead as SENT (``record_sent``), then: acknowledged -> OPEN; a refusal (RMS, bad
    input) -> REJECTED; a request that provably never left -> FAILED (never sent); anything
    ambiguous, including an unexpected error, -> UNKNOWN, which settlement and the recovery
    sweep resolve by tag.
    """
    child = ChildOrder.from_dict(item.request)
    at = checkpoint or _no_checkpoint
    at("before_claim", item)
    executions.record_sent(item, stamp(clock()))
    at("after_claim", item)
    try:
        ack = adapter.place(order_request(child, market))
    except (Rejected, InvalidOrder, InvalidRequest) as error:
        executions.record_failed(item, lc.REJECTED, error_doc(error), at=stamp(clock()))
    except Unavailable as error:
        if error.sent:
            executions.record_unknown(item, error_doc(error), at=stamp(clock()))
        else:
            executions.record_failed(item, lc.FAILED, error_doc(error), at=stamp(clock()))
    except BrokerError as error:  # refused before placement: session, IP, rate
        executions.record_failed(item, lc.FAILED, error_doc(error), at=stamp(clock()))
    except Exception as error:  # a malformed reply, a storage error in the limiter...
        log.exception("order placement failed unexpectedly", extra={"tag": item.tag})
        executions.record_unknown(item, error_doc(error), at=stamp(clock()))
    else:
        at("after_send", item)
        executions.record_ack(item, ack.order_id, sent_at=None, acked_at=stamp(clock()),
                              recovered=ack.recovered)  # fmt: skip
        at("after_ack", item)
    log.info(
        "order sent",
        extra={"account": item.account_id, "tag": item.tag, "status": item.status},
    )
    return item
