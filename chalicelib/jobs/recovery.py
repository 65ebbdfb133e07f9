"""The recovery sweep as a job: once (on clock start, on a schedule, after each fire) or as a
loop every few seconds during the session (the local clock's thread).

After a crash anywhere between an order's claim and its record, the sweep that runs when the
clock restarts knows the truth within seconds (its tag lookups span ~3 s): that is the local
target of 10 s. On AWS the schedule runs it each minute of the session and the tick's settle step
runs it after each fire.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from chalicelib.container import Container
from chalicelib.jobs import paper, risk

log = logging.getLogger(__name__)
INTERVAL = 3.0  # seconds between sweeps in the session (locally)
IDLE_INTERVAL = 60.0  # outside the session: late resolutions still happen, rarely


def sweep(
    container: Container, now: datetime | None = None, users: Sequence[str] | None = None
) -> dict[str, Any]:
    """One sweep (of every user, or of ``users``); every execution it settled gets its risk
    book armed (stops at the broker)."""
    recovery = container.recovery
    recovery.after_settle = lambda uid, sk: risk.arm(container, uid, sk)
    if users is None:  # the paper book's resting orders are matched on every full sweep
        try:
            paper.sweep(container)
        except Exception:
            log.exception("paper book sweep failed")
    return recovery.sweep(now, users).as_dict()


def loop(
    container: Container,
    *,
    interval: float = INTERVAL,
    idle_interval: float = IDLE_INTERVAL,
    stop: threading.Event | None = None,
) -> None:
    """Sweep at once (clock start), then every ``interval`` seconds in the session; a failed
    sweep is logged and the next one runs."""
    stop = stop or threading.Event()
    while not stop.is_set():
        began = time.monotonic()
        try:
            sweep(container)
        except Exception:
            log.exception("recovery sweep failed")
        period = interval if risk.in_session(container.clock()) else idle_interval
        stop.wait(max(0.0, period - (time.monotonic() - began)))
