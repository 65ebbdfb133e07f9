"""The firer's hot path at T on prepared bytes (``adapters/brokers/wire.py``), and its aftermath.

Before T (``prepare``) an account's orders become a wire lane when every part allows it: the
adapter is an HTTP adapter on a real socket (``wire_ready``), each request serialises
(``prepare_place``: session and token checks happen here, before T), the account's limiter can
book slots from memory, and no order closes a position (an exit's before-send trim reads what is
held at T: those accounts keep the threaded path, where the hook runs as before). Anything else
returns None and the account goes through ``Firer._send_account`` unchanged.

After the loop (``finish``, per account, in the pool) each reply is read by the adapter exactly as
``place`` reads its own. An ambiguous first attempt (no reply, a 5xx, an unreadable 2xx) goes to
``place(failed=...)``: the tag lookups, then at most one resend. Orders the lane did not send
(it stopped at an ambiguous reply, or its budget had to come from the table) then go through the
firer's ordinary one-order send, in the account's order, staleness bound included.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from chalicelib.adapters.brokers.base import HttpBroker
from chalicelib.adapters.brokers.placement import PreparedPlace
from chalicelib.adapters.brokers.wire import Connection, Job, Lane, Loop, response_of
from chalicelib.adapters.dynamo.models import OrderItem
from chalicelib.domain import order_lifecycle as lc
from chalicelib.ports.broker import OrderRequest
from chalicelib.ports.broker_errors import Unavailable
from chalicelib.services.fire_outcome import Sent, outcome_of

log = logging.getLogger(__name__)


@dataclass
class WireGroup:
    """One account's orders on the wire: their prepared requests and the lane that sends them."""

    orders: list[OrderItem]
    requests: list[OrderRequest]
    prepared: list[PreparedPlace]
    lane: Lane
    adapter: Any
    #: The before-send hook changed something at T: the account goes the threaded way.
    threaded: bool = False


def prepare(
    orders: list[OrderItem],
    requests: list[OrderRequest | Exception],
    adapter: Any,
    *,
    t_mono: float,
    allowed: Callable[[OrderItem], timedelta | None],
    guarded: bool,
) -> WireGroup | None:
    """The account's wire lane, opened before T; None when it must take the threaded path."""
    if not orders or not isinstance(adapter, HttpBroker):  # a wrapped port keeps its own place
        return None
    if any(isinstance(r, Exception) for r in requests):
        return None
    if guarded and any(o.phase != "ENTRY" for o in orders):
        return None
    limiter = adapter.config.limiter
    if limiter is not None and not hasattr(limiter, "book"):
        return None
    try:
        if not adapter.wire_ready():
            return None
        ready = [r for r in requests if not isinstance(r, Exception)]
        prepared = [adapter.prepare_place(r) for r in ready]
        timeout = adapter.config.client.timeout
        connection = Connection.open(prepared[0].http.url, timeout.connect or 3.0)
    except Exception:  # any doubt: the adapter's own path, which reports the error per order
        log.info("no wire lane", extra={"account": orders[0].account_id}, exc_info=True)
        return None
    key = adapter.pace_key

    def book() -> float | None:
        return 0.0 if limiter is None else limiter.book(key)

    jobs = []
    for order, ready_request in zip(orders, prepared, strict=True):
        bound = allowed(order)
        deadline = None if bound is None else t_mono + bound.total_seconds()
        jobs.append(Job(ready_request.wire, deadline=deadline))
    lane = Lane(connection, jobs, book, timeout.read or 5.0, broker=getattr(adapter, "name", ""))
    return WireGroup(orders, ready, prepared, lane, adapter)


def unchanged_by(hook: Any, group: WireGroup) -> bool:
    """Run the before-send hook at T on an all-entry lane; True when it kept every order as
    prepared (an entry is never trimmed; a hook that changed anything sends the threaded way)."""
    if hook is None:
        return True
    try:
        kept, kept_requests = hook(group.orders, group.requests, group.adapter)
    except Exception:  # nothing here closes a position: the entries go out as planned
        log.exception("before-send hook failed", extra={"account": group.orders[0].account_id})
        return True
    return len(kept) == len(group.orders) and all(
        a is b for a, b in zip(kept_requests, group.requests, strict=False)
    )


@dataclass
class Outcome:
    """What finishing one order produced, for the firer's ``Sent``."""

    ack: Any
    error: Exception | None
    sent_mono: float | None
    acked_mono: float | None
    missed: bool = False
    #: The lane did not handle it: the firer sends it the ordinary way.
    unsent: bool = False


def finish(group: WireGroup, now: Callable[[], float]) -> list[Outcome]:
    """Each order's outcome, read by the adapter; ambiguous ones resolved by tag (<= 1 resend)."""
    outcomes: list[Outcome] = []
    for job, prepared in zip(group.lane.jobs, group.prepared, strict=True):
        if job.missed:
            outcomes.append(Outcome(None, None, None, None, missed=True))
            continue
        if job.sent_at is None:
            outcomes.append(Outcome(None, None, None, None, unsent=True))
            continue
        ack, error, acked = None, None, job.answered_at
        try:
            if job.error is not None:
                raise job.error
            ack = group.adapter.finish_place(prepared, response_of(job, prepared.http))
        except Unavailable as failure:
            if failure.sent:
                ack, error, acked = _resolve(group.adapter, prepared.request, failure, now)
            else:
                error = failure
        except Exception as failure:
            error = failure
        outcomes.append(Outcome(ack, error, job.sent_at, acked if ack is not None else None))
    return outcomes


def _resolve(
    adapter: Any, request: OrderRequest, failure: Unavailable, now: Callable[[], float]
) -> tuple[Any, Exception | None, float | None]:
    try:
        return adapter.place(request, failed=failure), None, now()
    except Exception as error:
        return None, error, None


def wall_of(t_mono: float, t_wall: datetime) -> Callable[[float], datetime]:
    """Monotonic instants on the wall clock of T (the firer stamps sent_at from them)."""
    return lambda mono: t_wall + timedelta(seconds=mono - t_mono)


def results(
    group: WireGroup,
    to_wall: Callable[[float], datetime],
    monotonic: Callable[[], float],
    wall: Callable[[], datetime],
    send_one: Callable[[OrderItem, Any, Any], Sent],
    at: Callable[[str, OrderItem], None],
) -> list[Sent]:
    """The lane's orders as the firer's ``Sent``, in the account's order; orders the lane did not
    send go out now through ``send_one`` (the ordinary path: staleness bound, limiter, place)."""
    sent: list[Sent] = []
    outcomes = finish(group, monotonic)
    for order, request, done in zip(group.orders, group.requests, outcomes, strict=True):
        if done.unsent:
            sent.append(send_one(order, request, group.adapter))
        elif done.missed:
            sent.append(Sent(order, wall(), None, None, None, lc.MISSED, left=False))
        else:
            sent_at = to_wall(done.sent_mono if done.sent_mono is not None else monotonic())
            acked = to_wall(done.acked_mono) if done.acked_mono is not None else None
            at("after_send", order)
            outcome = lc.OPEN if done.ack is not None else outcome_of(done.error)
            left = outcome != lc.FAILED or not isinstance(done.error, Unavailable)
            sent.append(Sent(order, sent_at, acked, done.ack, done.error, outcome, left))
    return sent


class WireFiring:
    """The firer's steps around the wire lanes (mixed into ``Firer``, whose fields they use)."""

    before_send: Any
    monotonic: Callable[[], float]
    wall: Callable[[], datetime]
    _cpu: Callable[..., Any]
    _allowed: Callable[[OrderItem], timedelta | None]
    _send_account: Callable[..., list[Sent]]
    _send_one: Callable[..., Sent]
    _at: Callable[[str, OrderItem], None]

    def _wire(
        self, t_mono: float, group: list[OrderItem], requests: list[Any], adapter: Any
    ) -> WireGroup | None:
        """The account's requests serialised and its connection opened, before T (None: the
        threaded path, whose adapter opens its connection now)."""
        wired = prepare(
            group, requests, adapter, t_mono=t_mono, guarded=self.before_send is not None,
            allowed=lambda o: self._allowed(o),
        )  # fmt: skip
        warm = getattr(adapter, "warm", None)
        if wired is None and group and warm is not None:
            warm()  # the connection is open before T; the first order skips the handshake
        return wired

    def _send_all(
        self,
        pool: ThreadPoolExecutor,
        claimed: list[list[OrderItem]],
        requests: list[Any],
        adapters: list[Any],
        wired: list[WireGroup | None],
    ) -> list[list[Sent]]:
        """Threaded accounts start in the pool; wire lanes go out from this thread's event
        loop; then the lanes' replies are read and their ambiguous orders resolved (pool)."""
        send = self._cpu("send", self._send_account)
        threaded = {i: pool.submit(send, claimed[i], requests[i], adapters[i])
                    for i, w in enumerate(wired) if w is None}  # fmt: skip
        lanes = {i: w for i, w in enumerate(wired) if w is not None}
        if lanes:
            self._cpu("send", self._send_wired)(list(lanes.values()))
        to_wall = wall_of(self.monotonic(), self.wall())
        finish = self._cpu("record", partial(self._finish_wired, to_wall))
        finished = dict(zip(lanes, pool.map(finish, lanes.values()), strict=True))
        return [threaded[i].result() if i in threaded else finished[i] for i in range(len(wired))]

    def _send_wired(self, groups: list[WireGroup]) -> None:
        for group in groups:
            group.threaded = not unchanged_by(self.before_send, group)
        collecting = gc.isenabled()
        gc.disable()  # a full collection of this process's heap would stall the loop for ms
        try:
            Loop([g.lane for g in groups if not g.threaded], self.monotonic).run()
        finally:
            if collecting:
                gc.enable()

    def _finish_wired(self, to_wall: Callable[[float], datetime], group: WireGroup) -> list[Sent]:
        if group.threaded:
            return self._send_account(group.orders, list(group.requests), group.adapter)
        return results(group, to_wall, self.monotonic, self.wall, self._send_one, self._at)
