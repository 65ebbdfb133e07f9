"""The brokers' order-rate limit: at most 10 requests in any sliding second, per key.

A key is an account at most brokers (order endpoints only) and the whole app at Fyers (every
authenticated call): the server decides, this only counts. The time comes from the server's
monotonic clock, which tests replace to step through a window without sleeping.
"""

from __future__ import annotations

import collections
import threading

#: Requests per key allowed in any sliding window of this many seconds.
RATE_LIMIT, RATE_WINDOW = 10, 1.0


class SlidingWindows:
    """One sliding window per key."""

    def __init__(self, limit: int = RATE_LIMIT, window: float = RATE_WINDOW) -> None:
        self.limit, self.window = limit, window
        self._windows: dict[str, collections.deque[float]] = collections.defaultdict(
            collections.deque
        )
        self._lock = threading.Lock()

    def admit(self, key: str, now: float) -> bool:
        """Count a request at ``now`` unless ``limit`` were already admitted in the window."""
        with self._lock:
            window = self._windows[key]
            while window and now - window[0] >= self.window:
                window.popleft()
            if len(window) >= self.limit:
                return False
            window.append(now)
            return True
