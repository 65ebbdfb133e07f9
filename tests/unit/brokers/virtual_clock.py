"""A discrete-event clock for threads: time moves only when every participant sleeps.

``sleep(d)`` parks the calling thread until virtual time reaches now + d. When all
participating threads are parked (or finished), time jumps to the earliest wake-up. Threads that
run in parallel in real life therefore also overlap in virtual time, and a 6-second pacing
scenario finishes in milliseconds, deterministically.
"""

from __future__ import annotations

import heapq
import itertools
import threading


class VirtualClock:
    def __init__(self, participants: int) -> None:
        self.now = 0.0
        self._active = participants
        self._sleepers: list[tuple[float, int]] = []
        self._seq = itertools.count()
        self._cv = threading.Condition()

    def monotonic(self) -> float:
        with self._cv:
            return self.now

    def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        with self._cv:
            wake = self.now + seconds
            heapq.heappush(self._sleepers, (wake, next(self._seq)))
            self._active -= 1
            self._advance_if_idle()
            while self.now < wake:
                self._cv.wait(timeout=5)

    def done(self) -> None:
        """A participant thread finished: it no longer holds time back."""
        with self._cv:
            self._active -= 1
            self._advance_if_idle()

    def _advance_if_idle(self) -> None:
        if self._active > 0 or not self._sleepers:
            return
        self.now = self._sleepers[0][0]
        while self._sleepers and self._sleepers[0][0] <= self.now:
            heapq.heappop(self._sleepers)
            self._active += 1
        self._cv.notify_all()
