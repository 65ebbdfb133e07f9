"""The firer's hot path at T on prepared bytes (the ``WireSender`` port), and its aftermath.

Before T (``prepare``) an account's orders become a wire lane when the firer's rules allow it
(every request usable, and no order closes a position under a before-send hook: an exit's trim
reads what is held at T, so those accounts keep the threaded path, where the hook runs as before)
and the sender can open one for that adapter (``WireSender.open_lane``: an HTTP adapter on a real
socket, requests serialised, limiter bookable from memory). Anything else returns None and the
account goes through ``Firer._send_account`` unchanged.

After the loop (``results``, per account, in the pool) each lane reports its outcomes, ambiguous
replies already resolved by tag (at most one resend). Orders the lane did not send (it stopped at
an ambiguous reply, or its budget had to come from the table) then go through the firer's
ordinary one-order send, in the account's order, staleness bound included.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from chalicelib.domain import order_lifecycle as lc
from chalicelib.domain.records import OrderRecord
from chalicelib.ports.broker import OrderRequest
from chalicelib.ports.broker_errors import Unavailable
from chalicelib.ports.wire import WireLane, WireSender
from chalicelib.services.fire_outcome import Sent, outcome_of

log = logging.getLogger(__name__)


@dataclass
class WireGroup:
    """One account's orders on the wire: their requests and the lane that sends them."""

    orders: list[OrderRecord]
    requests: list[OrderRequest]
    lane: WireLane
    adapter: Any
    #: The before-send hook changed something at T: the account goes the threaded way.
    threaded: bool = False


def prepare(
    sender: WireSender | None,
    orders: list[OrderRecord],
    requests: list[OrderRequest | Exception],
    adapter: Any,
    *,
    t_mono: float,
    allowed: Callable[[OrderRecord], timedelta | None],
    guarded: bool,
) -> WireGroup | None:
    """The account's wire lane, opened before T; None when it must take the threaded path."""
    if sender is None or not orders or isinstance(adapter, Exception):
        return None
    ready = [r for r in requests if not isinstance(r, Exception)]
    if len(ready) != len(requests):
        return None
    if guarded and any(o.phase != "ENTRY" for o in orders):
        return None
    deadlines = []
    for order in orders:
        bound = allowed(order)
        deadlines.append(None if bound is None else t_mono + bound.total_seconds())
    lane = sender.open_lane(adapter, ready, deadlines)
    return None if lane is None else WireGroup(orders, ready, lane, adapter)


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


def wall_of(t_mono: float, t_wall: datetime) -> Callable[[float], datetime]:
    """Monotonic instants on the wall clock of T (the firer stamps sent_at from them)."""
    return lambda mono: t_wall + timedelta(seconds=mono - t_mono)


def results(
    group: WireGroup,
    to_wall: Callable[[float], datetime],
    monotonic: Callable[[], float],
    wall: Callable[[], datetime],
    send_one: Callable[[OrderRecord, Any, Any], Sent],
    at: Callable[[str, OrderRecord], None],
) -> list[Sent]:
    """The lane's orders as the firer's ``Sent``, in the account's order; orders the lane did not
    send go out now through ``send_one`` (the ordinary path: staleness bound, limiter, place)."""
    sent: list[Sent] = []
    outcomes = group.lane.outcomes(monotonic)
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
    wire: WireSender | None
    monotonic: Callable[[], float]
    wall: Callable[[], datetime]
    _cpu: Callable[..., Any]
    _allowed: Callable[[OrderRecord], timedelta | None]
    _send_account: Callable[..., list[Sent]]
    _send_one: Callable[..., Sent]
    _at: Callable[[str, OrderRecord], None]

    def _wire(
        self, t_mono: float, group: list[OrderRecord], requests: list[Any], adapter: Any
    ) -> WireGroup | None:
        """The account's requests serialised and its connection opened, before T (None: the
        threaded path, whose adapter opens its connection now)."""
        wired = prepare(
            self.wire, group, requests, adapter, t_mono=t_mono, guarded=self.before_send is not None,
            allowed=lambda o: self._allowed(o),
        )  # fmt: skip
        warm = getattr(adapter, "warm", None)
        if wired is None and group and warm is not None:
            warm()  # the connection is open before T; the first order skips the handshake
        return wired

    def _send_all(
        self,
        pool: ThreadPoolExecutor,
        claimed: list[list[OrderRecord]],
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
        if self.wire is not None:
            self.wire.run([g.lane for g in groups if not g.threaded], self.monotonic)

    def _finish_wired(self, to_wall: Callable[[float], datetime], group: WireGroup) -> list[Sent]:
        if group.threaded:
            return self._send_account(group.orders, list(group.requests), group.adapter)
        return results(group, to_wall, self.monotonic, self.wall, self._send_one, self._at)
