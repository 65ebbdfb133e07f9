"""Write before you send: the risk engine's orders are intents on the book before they are orders.

Every stop, close and re-entry the engine sends goes through three writes:

1. the order items are stored BUILT (with their tags);
2. their ids are written into the guard in the book's conditional (versioned) write: the claim.
   Losing the claim abandons the items (BUILT -> FAILED ``never_sent``), so they can never leave;
3. each item moves BUILT -> SENT on condition before the broker call: of every actor that holds
   the intent (a second monitor, a restart, recovery) exactly one places it.

Whoever finds an intent later resolves it instead of sending another: a BUILT item past
``GRACE`` was never sent (its actor died): it is abandoned and the guard decides afresh; a SENT
item without a broker id is looked up by its tag at the broker (``Settlement.poll``), and only
when the broker's book has not shown the tag for ``LAG`` is it declared ``never_sent``.

An actor that dies between steps 1 and 2 leaves an *orphan*: an intent BUILT, named by no
guard, so no monitor looks at it. The monitor sweeps each book's orphans when it first sees the
book (a restart) and the recovery sweep each day's (``RiskEngine.resolve_orphans``): past
``GRACE``, the tag is looked up at the broker; absent (the only outcome the send's order allows:
nothing is sent before the claim) it is abandoned, and the guard, which never knew of it,
decides afresh; present, it is adopted into its guard and settled from the broker's truth.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.records import OrderRecord, RiskBookRecord
from chalicelib.ports.broker import Broker, InvalidRequest
from chalicelib.ports.broker_errors import BrokerError, InvalidOrder, Rejected, Unavailable
from chalicelib.ports.risk import RiskOrderStore
from chalicelib.services.clock import Clock
from chalicelib.services.order_builder import ChildOrder
from chalicelib.services.order_sender import error_doc, order_request, stamp
from chalicelib.services.risk_desk import OrderDesk

log = logging.getLogger(__name__)
#: A BUILT intent younger than this belongs to an actor that is about to send it.
GRACE = timedelta(seconds=3)
#: How long a broker's order book may take to show a placed order's tag.
LAG = timedelta(seconds=10)
#: The guard's list an intent of each phase belongs in (``guards.ORDER_FIELDS``).
FIELD_OF_PHASE = {"STOP": "stop_orders", "RISKX": "exit_orders", "REENTRY": "reentry_orders"}


@dataclass
class Intents:
    orders: RiskOrderStore
    desk: OrderDesk
    clock: Clock
    #: (step, order) -> None: the engine's fault-matrix checkpoint (``after_send``).
    at: Callable[[str, OrderRecord], None] = lambda step, order: None

    def build(
        self,
        uid: str,
        execution_sk: str,
        strategy_id: str,
        phase: str,
        children: Sequence[ChildOrder],
        now: datetime,
    ) -> list[OrderRecord]:
        """Store the orders BUILT (step 1); the caller writes their ids into the book next."""
        return self.orders.put_intents(uid, execution_sk, strategy_id, phase, children, now)

    def dispatch(self, adapter: Broker, items: Iterable[OrderRecord]) -> None:
        """Send each BUILT item this actor wins (step 3); never raises for a broker refusal."""
        for item in items:
            if item.status != "BUILT" or not self.orders.claim_intent(item, stamp(self.clock())):
                continue
            self._place(adapter, item)

    def _place(self, adapter: Broker, item: OrderRecord) -> None:
        """Place and record the answer on condition (``record_intent_outcome``): while the broker
        is slow to answer, another actor may resolve the order by tag and apply its fill."""
        request = order_request(ChildOrder.from_dict(item.request), self.desk.closer.market)
        try:
            ack = adapter.place(request)
        except (Rejected, InvalidOrder, InvalidRequest) as error:
            self.at("after_send", item)
            self._answer(item, "REJECTED", str(error), error=error_doc(error))
        except Unavailable as error:  # ambiguous: stays SENT, resolved by tag
            self._answer(item, "SENT", str(error), error=error_doc(error))
        except BrokerError as error:
            self._answer(item, "FAILED", str(error), error=error_doc(error))
        else:
            self.at("after_send", item)
            self._answer(item, "OPEN", "acknowledged", broker_order_id=ack.order_id,
                         acked_at=stamp(self.clock()))  # fmt: skip
        log.info("risk order sent", extra={"account": item.account_id, "tag": item.tag,
                                           "status": item.status})  # fmt: skip

    def _answer(self, item: OrderRecord, status: str, message: str, **fields: Any) -> None:
        entry = {"at": stamp(self.clock()), "status": status, "filled_quantity": 0,
                 "average_price": None, "message": message}  # fmt: skip
        self.orders.record_intent_outcome(item, status, entry, **fields)

    def drop(self, items: Iterable[OrderRecord], why: str) -> None:
        """The claim was lost: the intents must never leave."""
        for item in items:
            if item.status == "BUILT":
                self.orders.abandon_intent(item, why, stamp(self.clock()))

    def settle_orphan(self, adapter: Broker | None, order: OrderRecord, now: datetime) -> str:
        """An intent no guard names (its actor died before the claim): ``young`` (its actor
        may still claim it), ``unknown`` (the broker cannot be asked now), ``abandoned`` (not
        at the broker: FAILED ``never_sent``, never to be sent) or ``found`` (at the broker
        after all: recorded SENT and settled by tag; the caller adopts it into its guard)."""
        if order.status != "BUILT":
            return "settled"
        if now - datetime.fromisoformat(order.scheduled_at) < GRACE:
            return "young"
        if adapter is None:
            return "unknown"
        try:
            found = list(adapter.find_by_tag(order.tag))
        except BrokerError as error:
            log.warning("orphan lookup failed", extra={"tag": order.tag, "error": error.kind})
            return "unknown"
        if not found:
            message = "not sent: its sender stopped before writing it into the risk book"
            return (
                "abandoned" if self.orders.abandon_intent(order, message, stamp(now)) else "settled"
            )
        if not self.orders.claim_intent(order, stamp(now)):
            return "settled"  # another actor moved it on meanwhile
        log.error("risk order at the broker that no guard named", extra={"tag": order.tag})
        self.desk.poll(adapter, order)
        return "found"

    def resolve(self, adapter: Broker | None, order: OrderRecord, now: datetime) -> None:
        """An intent whose fate is unknown to this actor: settle it from the broker's truth."""
        if order.status == "BUILT":
            if now - datetime.fromisoformat(order.scheduled_at) >= GRACE:
                self.orders.abandon_intent(
                    order, "not sent: its sender stopped before sending", stamp(now)
                )
            return
        if order.status != "SENT" or order.broker_order_id or adapter is None:
            return
        self.desk.poll(adapter, order)  # looks the tag up at the broker
        sent = datetime.fromisoformat(order.sent_at or order.scheduled_at)
        if not order.broker_order_id and now - sent >= LAG:
            message = "no order with this tag at the broker: it never arrived"
            if self.orders.intent_never_reached(order, message, stamp(now)):
                log.warning("risk order never reached the broker", extra={"tag": order.tag})


def in_flight(order: OrderRecord) -> bool:
    """Sent or about to be, with no broker id yet: nobody may act as if it did not exist."""
    return order.status in ("BUILT", "SENT") and not order.broker_order_id


def orphans(book: RiskBookRecord, orders: Iterable[OrderRecord]) -> list[OrderRecord]:
    """The book's intents stored BUILT that no guard names (their claim was never written)."""
    named = {i for doc in book.guards for name in FIELD_OF_PHASE.values()
             for i in doc.get(name) or []}  # fmt: skip
    return [
        o for o in orders
        if o.status == "BUILT" and o.phase in FIELD_OF_PHASE and o.execution == book.execution
        and o.order_id not in named
    ]  # fmt: skip
