"""The platform's clock as an injectable port, always in Asia/Kolkata.

Everything that decides by "now" (readiness, session expiry, the planner's slot, the firer's wait)
asks the container's clock, never `datetime.now()`, so one setting can move the whole platform to
another instant: tests pin it, and a local run can start at a chosen trading morning.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.domain.calendar import IST

__all__ = ["IST", "Clock", "ClockShift", "ShiftedClock", "system_clock"]
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


@dataclass(frozen=True)
class ClockShift:
    """The platform moved in time for a local run: it reads ``at`` when the wall clock reads
    ``anchor`` and runs at real speed after. `make run AT=...` hands every process (API, clock,
    risk monitor, simulated exchange) the same shift, so they agree on "now" whenever each of
    them started or was restarted. ``spec`` is the PLATFORM_CLOCK setting that carries it."""

    at: datetime
    anchor: datetime

    def __post_init__(self) -> None:
        if self.at.tzinfo is None or self.anchor.tzinfo is None:
            raise ValueError("a clock shift needs aware datetimes")

    @property
    def offset(self) -> timedelta:
        return self.at - self.anchor

    def clock(self, wall: Clock = system_clock) -> ShiftedClock:
        """This process's clock: started where the shift says the platform is now."""
        return ShiftedClock(wall() + self.offset)

    def spec(self) -> str:
        return f"{self.at.astimezone(IST).isoformat()}@{self.anchor.astimezone(IST).isoformat()}"

    @classmethod
    def parse(cls, raw: str) -> ClockShift:
        """``"<at>@<anchor>"`` (two aware ISO instants); ValueError otherwise."""
        at_text, sep, anchor_text = raw.partition("@")
        if not sep:
            raise ValueError(f"expected '<at>@<anchor>' (two ISO instants), got {raw!r}")
        at, anchor = datetime.fromisoformat(at_text), datetime.fromisoformat(anchor_text)
        if at.tzinfo is None or anchor.tzinfo is None:
            raise ValueError(f"both instants need an offset, e.g. +05:30: {raw!r}")
        return cls(at.astimezone(IST), anchor.astimezone(IST))
