"""In-memory fakes of the firing path's ports (``chalicelib/ports/firing.py``, ``ports/wire.py``)
and a scripted broker, for the engine's unit tests. The execution store itself is
``tests/fakes/firing_store.FiringExecutions`` (the shared in-memory store, made atomic per
operation for the firer's threads).
"""

from __future__ import annotations

import itertools
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib.domain import order_lifecycle as lc
from chalicelib.domain.calendar import IST
from chalicelib.ports.broker import OrderAck, OrderRequest
from chalicelib.ports.broker_errors import Unavailable
from chalicelib.ports.firing import ChildSpec
from chalicelib.ports.wire import WireOutcome
from tests.fakes.records import Order


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
