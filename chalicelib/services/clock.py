"""The platform's clock as an injectable port, always in Asia/Kolkata.

Everything that decides by "now" (readiness, session expiry, the planner's slot, the firer's wait)
asks the container's clock, never `datetime.now()`, so one setting can move the whole platform to
another instant: tests pin it, and a local run can start at a chosen trading morning.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from chalicelib.domain.calendar import IST

__all__ = ["IST", "Clock", "ShiftedClock", "system_clock"]
Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(IST)


class ShiftedClock:
    """Real-speed time that started at a chosen instant.

    It reads ``start`` when built (or when ``set``) and then advances with the monotonic clock, so
    a firer that sleeps to T really waits, while the date and hour are whatever the caller chose.
    ``set`` restarts it from another instant; it is thread-safe because servers and workers read it
    from other threads.
    """

    def __init__(self, start: datetime, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self.set(start)

    def set(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ShiftedClock needs an aware datetime")
        with self._lock:
            self._start, self._origin = start.astimezone(IST), self._monotonic()

    def __call__(self) -> datetime:
        with self._lock:
            start, origin = self._start, self._origin
        return start + timedelta(seconds=self._monotonic() - origin)
