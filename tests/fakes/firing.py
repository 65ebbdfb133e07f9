"""In-memory fakes of the firing path's ports (``chalicelib/ports/firing.py``, ``ports/wire.py``)
and a scripted broker, for the engine's unit tests.

``FakeExecutions`` keeps the DynamoDB store's semantics, not just its names: every transition is
conditioned on the states the lifecycle allows it from (``domain/order_lifecycle.py``), a refused
one returns False with the caller's record refreshed from the store, and it returns True when the
stored order already is where the write was taking it (its own retried write), exactly as
``ExecutionRepository._transition`` does. Storage outages are injected per operation (``fail``).
The caller's record and the stored one are distinct objects, as a PynamoDB item and its row are.
"""

from __future__ import annotations

import copy
import itertools
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib.domain import order_lifecycle as lc
from chalicelib.domain.calendar import IST
from chalicelib.errors import DependencyUnavailable, NotFound
from chalicelib.ports.broker import OrderAck, OrderRequest
from chalicelib.ports.broker_errors import Unavailable
from chalicelib.ports.firing import ChildSpec
from chalicelib.ports.wire import WireOutcome
from tests.fakes.records import Execution, Order

Key = tuple[str, str]


class FakeExecutions:
    """The execution store's order transitions (``FireStore``) over dataclass records."""

    def __init__(self) -> None:
        self._orders: dict[Key, Order] = {}
        self._executions: dict[Key, Execution] = {}
        self.events: dict[Key, list[dict[str, Any]]] = {}
        self._faults: dict[str, list[Exception]] = {}
        self._lock = threading.RLock()

    # -- set-up and inspection (not part of the port) -------------------------------------------
    def put_orders(self, orders: Sequence[Order]) -> None:
        with self._lock:
            for order in orders:
                self._orders[(order.uid, order.sk)] = copy.deepcopy(order)

    def put_execution(self, execution: Execution) -> None:
        with self._lock:
            self._executions[(execution.uid, execution.sk)] = copy.deepcopy(execution)

    def stored(self, order: Order) -> Order:
        """A copy of what the store holds for ``order``."""
        with self._lock:
            return copy.deepcopy(self._orders[(order.uid, order.sk)])

    def fail(self, operation: str, error: Exception, times: int = 1) -> None:
        """The next ``times`` calls of ``operation`` raise ``error`` before writing anything."""
        self._faults.setdefault(operation, []).extend([error] * times)

    # -- the port ---------------------------------------------------------------------------------
    def claim_order(self, order: Order, token: str, at: str) -> bool:
        return self._transition(
            "claim_order",
            order,
            {"status": lc.CLAIMED, "claim_token": token, "claimed_at": at},
            lambda o: (
                o.status in lc.CLAIM_FROM or (o.status == lc.CLAIMED and o.claim_token == token)
            ),
            lambda o: o.status == lc.CLAIMED and o.claim_token == token,
        )

    def record_sent(self, order: Order, sent_at: str) -> None:
        with self._lock:
            self._fault("record_sent")
            key = (order.uid, order.sk)
            if key in self._orders:
                _refresh(order, self._orders[key])
                if order.status != lc.SENT or order.sent_at != sent_at:
                    raise DependencyUnavailable("order id already in use")
                return
            order.status, order.sent_at = lc.SENT, sent_at
            self._orders[key] = copy.deepcopy(order)

    def record_ack(
        self,
        order: Order,
        broker_order_id: str,
        *,
        sent_at: str | None,
        acked_at: str,
        recovered: bool = False,
        message: str = "acknowledged",
    ) -> bool:
        entry = _entry(acked_at, lc.OPEN, message, recovered=recovered)
        changes: dict[str, Any] = {
            "status": lc.OPEN,
            "broker_order_id": broker_order_id,
            "acked_at": acked_at,
            "history": [*(order.history or []), entry],
        }
        if sent_at is not None and not order.sent_at:
            changes["sent_at"] = sent_at
        if order.status == lc.FAILED:
            changes["error"] = None
        return self._transition(
            "record_ack",
            order,
            changes,
            lambda o: o.status in lc.ACK_FROM and o.broker_order_id in (None, broker_order_id),
            lambda o: o.broker_order_id == broker_order_id,
        )

    def record_unknown(
        self, order: Order, error: dict[str, Any], *, at: str, sent_at: str | None = None
    ) -> bool:
        changes: dict[str, Any] = {
            "status": lc.UNKNOWN,
            "error": error,
            "history": [*(order.history or []), _entry(at, lc.UNKNOWN, error.get("message", ""))],
        }
        if sent_at is not None:
            changes["sent_at"] = sent_at
        return self._transition(
            "record_unknown",
            order,
            changes,
            lambda o: o.status in lc.UNKNOWN_FROM,
            lambda o: o.status == lc.UNKNOWN,
        )

    def record_failed(
        self,
        order: Order,
        status: str,
        error: dict[str, Any],
        *,
        at: str,
        sent_at: str | None = None,
        claimed_before: str | None = None,
    ) -> bool:
        if status not in (lc.REJECTED, lc.FAILED):
            raise ValueError(f"record_failed cannot record {status}")
        changes: dict[str, Any] = {
            "status": status,
            "error": error,
            "history": [*(order.history or []), _entry(at, status, error.get("message", ""))],
        }
        if sent_at is not None:
            changes["sent_at"] = sent_at
        return self._transition(
            "record_failed",
            order,
            changes,
            lambda o: (
                o.status in lc.NEVER_SENT_FROM
                and o.broker_order_id is None
                and _claim_is_stale(o, claimed_before)
            ),
            lambda o: o.status == status,
        )

    def record_missed(self, order: Order, reason: str, *, at: str) -> bool:
        return self._transition(
            "record_missed",
            order,
            {
                "status": lc.MISSED,
                "error": {"kind": "missed", "code": "missed", "message": reason},
                "history": [*(order.history or []), _entry(at, lc.MISSED, reason)],
            },
            lambda o: o.status in lc.MISSED_FROM and o.sent_at is None,
            lambda o: o.status == lc.MISSED,
        )

    def get_execution(self, uid: str, sk: str) -> Execution:
        with self._lock:
            self._fault("get_execution")
            if (uid, sk) not in self._executions:
                raise NotFound("execution not found")
            return copy.deepcopy(self._executions[(uid, sk)])

    def add_event(self, item: Execution, event: dict[str, Any]) -> None:
        with self._lock:
            self._fault("add_event")
            self.events.setdefault((item.uid, item.sk), []).append(dict(event))

    # -- plumbing ---------------------------------------------------------------------------------
    def _transition(
        self,
        operation: str,
        order: Order,
        changes: dict[str, Any],
        allowed: Callable[[Order], bool],
        reached: Callable[[Order], bool],
    ) -> bool:
        with self._lock:
            self._fault(operation)
            stored = self._orders.get((order.uid, order.sk))
            if stored is None:
                raise NotFound("order not found")
            if allowed(stored):
                for name, value in changes.items():
                    setattr(stored, name, copy.deepcopy(value))
                _refresh(order, stored)
                return True
            _refresh(order, stored)
            return reached(order)

    def _fault(self, operation: str) -> None:
        pending = self._faults.get(operation)
        if pending:
            raise pending.pop(0)


class FakeNewOrders:
    """``NewOrders``: BUILT order records keyed as the DynamoDB items are."""

    def new_order(
        self,
        uid: str,
        execution_sk: str,
        strategy_id: str,
        phase: str,
        child: ChildSpec,
        scheduled_at: datetime,
        order_id: str | None = None,
    ) -> Order:
        order_id = order_id or secrets.token_hex(8)
        moment = scheduled_at.astimezone(IST)
        return Order(
            sk=f"ORDER#{moment.date().isoformat()}#{order_id}",
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
            scheduled_at=moment.isoformat(timespec="milliseconds"),
            history=[],
        )


@dataclass
class ScriptedBroker:
    """A broker port whose ``place`` answers per tag: an ack by default, else the scripted error
    (raised each time that tag is placed). ``placed`` lists every tag that reached it, in order."""

    name: str = "fake"
    errors: dict[str, Exception] = field(default_factory=dict)
    placed: list[str] = field(default_factory=list)
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def place(self, request: OrderRequest, *, failed: Unavailable | None = None) -> OrderAck:
        with self._lock:
            self.placed.append(request.tag)
            error = self.errors.get(request.tag)
            if error is not None:
                raise error
            return OrderAck(f"B{next(self._ids)}", tag=request.tag)


@dataclass
class FakeLane:
    adapter: Any
    requests: list[OrderRequest]
    deadlines: list[float | None]
    results: list[WireOutcome] = field(default_factory=list)

    def outcomes(self, now: Callable[[], float]) -> list[WireOutcome]:
        return self.results


@dataclass
class FakeWireSender:
    """``WireSender``: a lane for every adapter not listed in ``refuse``; at ``run`` each
    request goes to the adapter's ``place`` unless it is past its deadline (missed) or its tag is
    in ``leave_unsent`` (the lane stopped before it: the firer must send it the ordinary way)."""

    refuse: set[str] = field(default_factory=set)
    leave_unsent: set[str] = field(default_factory=set)
    opened: list[FakeLane] = field(default_factory=list)
    ran: list[FakeLane] = field(default_factory=list)

    def open_lane(
        self, adapter: Any, requests: Sequence[OrderRequest], deadlines: Sequence[float | None]
    ) -> FakeLane | None:
        if adapter.name in self.refuse:
            return None
        lane = FakeLane(adapter, list(requests), list(deadlines))
        self.opened.append(lane)
        return lane

    def run(self, lanes: Sequence[FakeLane], monotonic: Callable[[], float]) -> None:
        for lane in lanes:
            self.ran.append(lane)
            stopped = False
            for request, deadline in zip(lane.requests, lane.deadlines, strict=True):
                now = monotonic()
                if stopped or request.tag in self.leave_unsent:
                    stopped = True
                    lane.results.append(WireOutcome(None, None, None, None, unsent=True))
                elif deadline is not None and now > deadline:
                    lane.results.append(WireOutcome(None, None, None, None, missed=True))
                else:
                    try:
                        ack = lane.adapter.place(request)
                    except Exception as error:
                        lane.results.append(WireOutcome(None, error, now, None))
                    else:
                        lane.results.append(WireOutcome(ack, None, now, monotonic()))


def _refresh(order: Order, stored: Order) -> None:
    order.__dict__.update(copy.deepcopy(stored.__dict__))


def _claim_is_stale(order: Order, before: str | None) -> bool:
    if before is None or order.claim_token is None:
        return True
    return order.claimed_at is not None and order.claimed_at < before


def _entry(at: str, status: str, message: str, **extra: Any) -> dict[str, Any]:
    return {
        "at": at,
        "status": status,
        "filled_quantity": 0,
        "average_price": None,
        "message": message,
        **extra,
    }
