"""Clocks for the simulated exchange: the wall clock in IST, and a settable one for tests.

Prices are a function of (seed, time), so whoever owns the clock owns the market: tests move a
``ManualClock`` instead of sleeping.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from chalicelib.domain.calendar import IST

Clock = Callable[[], datetime]


def ist_now() -> datetime:
    """Now, aware, in Asia/Kolkata."""
    return datetime.now(IST)


class ManualClock:
    """A clock that only moves when told to (thread-safe: servers read it from other threads)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start.astimezone(IST)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float = 0, **delta: float) -> datetime:
        """Move forward by ``seconds`` (and/or timedelta keywords); returns the new time."""
        with self._lock:
            self._now += timedelta(seconds=seconds, **delta)
            return self._now

    def set(self, moment: datetime) -> None:
        """Jump to ``moment`` (aware)."""
        with self._lock:
            self._now = moment.astimezone(IST)
