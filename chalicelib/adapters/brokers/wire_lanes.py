"""The wire sender port (``ports/wire.py``) over the HTTP adapters and ``wire.py``'s event loop.

A lane opens only when every part allows it: the adapter is an ``HttpBroker`` on httpx's own
transport (``wire_ready``), each request serialises (``prepare_place``: session and token checks
happen here, before T), the connection opens, and the account's limiter can book slots from memory
(``book``). Anything else answers None and the firer sends that account the threaded way.

After the loop each reply is read by the adapter exactly as ``place`` reads its own
(``finish_place``). An ambiguous first attempt (no reply, a 5xx, an unreadable 2xx) goes to
``place(failed=...)``: the tag lookups, then at most one resend.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib.adapters.brokers.base import HttpBroker
from chalicelib.adapters.brokers.placement import PreparedPlace
from chalicelib.adapters.brokers.wire import Connection, Job, Lane, Loop, response_of
from chalicelib.ports.broker import OrderRequest
from chalicelib.ports.broker_errors import Unavailable
from chalicelib.ports.wire import WireOutcome

log = logging.getLogger(__name__)


@dataclass
class HttpWireLane:
    """One account's prepared placements and the loop's lane that sends them."""

    adapter: HttpBroker
    prepared: list[PreparedPlace]
    lane: Lane

    def outcomes(self, now: Callable[[], float]) -> list[WireOutcome]:
        jobs = zip(self.lane.jobs, self.prepared, strict=True)
        return [_outcome(self.adapter, job, prepared, now) for job, prepared in jobs]


class HttpWireSender:
    """Opens lanes for HTTP adapters and runs them on one selector loop."""

    def open_lane(
        self,
        adapter: Any,
        requests: Sequence[OrderRequest],
        deadlines: Sequence[float | None],
    ) -> HttpWireLane | None:
        if not requests or not isinstance(adapter, HttpBroker):  # a wrapped port keeps its place
            return None
        limiter = adapter.config.limiter
        if limiter is not None and not hasattr(limiter, "book"):
            return None
        try:
            if not adapter.wire_ready():
                return None
            prepared = [adapter.prepare_place(r) for r in requests]
            timeout = adapter.config.client.timeout
            connection = Connection.open(prepared[0].http.url, timeout.connect or 3.0)
        except Exception:  # any doubt: the adapter's own path, which reports the error per order
            log.info("no wire lane", extra={"account": adapter.config.account}, exc_info=True)
            return None
        key = adapter.pace_key

        def book() -> float | None:
            return 0.0 if limiter is None else limiter.book(key)  # type: ignore[attr-defined]

        jobs = [Job(p.wire, deadline=d) for p, d in zip(prepared, deadlines, strict=True)]
        lane = Lane(connection, jobs, book, timeout.read or 5.0, broker=adapter.name)
        return HttpWireLane(adapter, prepared, lane)

    def run(self, lanes: Sequence[Any], monotonic: Callable[[], float]) -> None:
        collecting = gc.isenabled()
        gc.disable()  # a full collection of this process's heap would stall the loop for ms
        try:
            Loop([lane.lane for lane in lanes], monotonic).run()
        finally:
            if collecting:
                gc.enable()


def _outcome(
    adapter: HttpBroker, job: Job, prepared: PreparedPlace, now: Callable[[], float]
) -> WireOutcome:
    """One job's outcome, read by the adapter; an ambiguous one resolved by tag (<= 1 resend)."""
    if job.missed:
        return WireOutcome(None, None, None, None, missed=True)
    if job.sent_at is None:
        return WireOutcome(None, None, None, None, unsent=True)
    ack, error, acked = None, None, job.answered_at
    try:
        if job.error is not None:
            raise job.error
        ack = adapter.finish_place(prepared, response_of(job, prepared.http))
    except Unavailable as failure:
        if failure.sent:
            ack, error, acked = _resolve(adapter, prepared.request, failure, now)
        else:
            error = failure
    except Exception as failure:
        error = failure
    return WireOutcome(ack, error, job.sent_at, acked if ack is not None else None)


def _resolve(
    adapter: HttpBroker, request: OrderRequest, failure: Unavailable, now: Callable[[], float]
) -> tuple[Any, Exception | None, float | None]:
    try:
        return adapter.place(request, failed=failure), None, now()
    except Exception as error:
        return None, error, None
