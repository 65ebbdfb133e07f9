"""Per-account order-rate limiting: never more than N order requests in any one second.

Brokers cap order requests per user (Kite: 10/s, 429 above); a 429 on an entry at 09:20:00 costs
the fill we scheduled for. Every place / modify / cancel of an account goes through one limiter,
whatever strategy or thread sends it. Design (docs/rate-limiting.md):

* ``SlidingWindowLimiter`` (one process): a sliding log with reservations. Each acquisition
  reserves the earliest instant ``t >= now`` such that the previous N-th grant is at least one
  window older, then sleeps until ``t`` outside the lock. Grants are therefore non-decreasing and
  any N+1 consecutive grants span at least a window: no half-open window of that length ever
  holds more than N. It is FIFO (first to ask, first served), thread-safe, and runs on an
  injectable monotonic clock and sleep.
* ``DynamoRateLimiter`` (across Lambdas): the same reservation rule kept in one DynamoDB item per
  account (``rate_items.RateLogItem``), written with optimistic locking; see that module.

N defaults to 8 and is capped at 10 (``HARD_MAX``) whatever the configuration says.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

DEFAULT_RATE = 8
HARD_MAX = 10


class OrderRateLimiter(Protocol):
    """Blocks the caller until one more order request on ``account`` is within the limit."""

    def acquire(self, account: str) -> float:
        """Wait for a slot; returns the slot's time on the limiter's clock."""
        ...


def checked_rate(rate: int) -> int:
    """The configured rate, refused when it is not between 1 and ``HARD_MAX``."""
    if not 1 <= rate <= HARD_MAX:
        raise ValueError(f"order rate must be 1..{HARD_MAX} per second, got {rate}")
    return rate


def next_slot(grants: deque[float] | list[float], now: float, rate: int, window: float) -> float:
    """The earliest instant >= ``now`` (and >= the last grant) that keeps <= ``rate`` per window.

    ``grants`` are the previous grant times, ascending; only the last ``rate`` matter.
    """
    slot = max(now, grants[-1]) if grants else now
    if len(grants) >= rate:
        slot = max(slot, grants[-rate] + window)
    return slot


class SlidingWindowLimiter:
    """In-process limiter shared by every thread of a process (one per container)."""

    def __init__(
        self,
        rate: int = DEFAULT_RATE,
        *,
        window: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = checked_rate(rate)
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._grants: dict[str, deque[float]] = {}

    def book(self, account: str) -> float:
        """Reserve the next slot for ``account`` without waiting: seconds until it (>= 0). For
        a caller that waits on its own (the firer's event loop at T)."""
        with self._lock:
            now = self._clock()
            grants = self._grants.setdefault(account, deque(maxlen=self.rate))
            slot = next_slot(grants, now, self.rate, self.window)
            grants.append(slot)
        return max(0.0, slot - now)

    def acquire(self, account: str) -> float:
        """Reserve the next slot for ``account`` and sleep until it (outside the lock)."""
        with self._lock:
            now = self._clock()
            grants = self._grants.setdefault(account, deque(maxlen=self.rate))
            slot = next_slot(grants, now, self.rate, self.window)
            grants.append(slot)
        if slot > now:
            self._sleep(slot - now)
        return slot
