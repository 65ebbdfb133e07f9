"""The per-account limiter as the firer sees it: when each request was really granted.

A paced order waits inside the adapter's ``place``; the firer stamps ``sent_at`` with the moment
the limiter let it go, read back per thread here. Budgets reserved before T (``reserve``) and
slots booked without waiting (``book``, for the firer's event loop) pass through to the inner
limiter when it has them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from chalicelib.ports.order_rate import OrderRateLimiter

log = logging.getLogger(__name__)


class StampingLimiter:
    """Wraps the per-account limiter and remembers, per thread, when it granted the last request:
    that is when the order really left (a paced order waits inside `place`)."""

    def __init__(self, inner: OrderRateLimiter, wall: Callable[[], datetime]) -> None:
        self._inner = inner
        self._wall = wall
        self._local = threading.local()

    def acquire(self, account: str) -> float:
        waited = self._inner.acquire(account)
        self._local.granted = self._wall()
        return waited

    def reserve(self, account: str, count: int, at: datetime) -> bool:
        """Reserve ``count`` of the account's slots from ``at`` before it comes, when the inner
        limiter keeps its log in a shared store (one conditional write instead of one per order
        at T); True when a budget was reserved. A failure only means the orders pay at T."""
        reserve = getattr(self._inner, "reserve", None)
        if reserve is None or count <= 0:
            return False
        try:
            reserve(account, count, max(0.0, (at - self._wall()).total_seconds()))
        except Exception:
            log.warning("rate budget not reserved", extra={"account": account}, exc_info=True)
            return False
        return True

    def book(self, account: str) -> float | None:
        """The inner limiter's next slot without waiting (seconds until it), when it can book
        one from memory; None: the caller must ``acquire`` (and may wait on I/O)."""
        book = getattr(self._inner, "book", None)
        return None if book is None else book(account)

    def take_grant(self) -> datetime | None:
        granted: datetime | None = getattr(self._local, "granted", None)
        self._local.granted = None
        return granted
