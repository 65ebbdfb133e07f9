"""The limiter as the firer sees it (``services/stamping_limiter.py``): the grant time of each
thread's last request, budgets reserved before T when the inner limiter can, and never a raise
from a reservation (the orders then pay at T)."""

from __future__ import annotations

import threading
from datetime import timedelta

from chalicelib.adapters.brokers.rate_limit import SlidingWindowLimiter
from chalicelib.services.stamping_limiter import StampingLimiter
from tests.unit.engine.firing_rig import T, Ticker


class Reserving:
    """An inner limiter with a shared-store budget (as ``DynamoRateLimiter``)."""

    def __init__(self, error: Exception | None = None) -> None:
        self.reserved: list[tuple[str, int, float]] = []
        self.error = error

    def acquire(self, account: str) -> float:
        return 0.0

    def reserve(self, account: str, count: int, start_in: float) -> list[float]:
        if self.error is not None:
            raise self.error
        self.reserved.append((account, count, start_in))
        return [start_in] * count


def test_each_thread_reads_back_when_its_own_request_was_granted():
    clock = Ticker(T)
    limiter = StampingLimiter(Reserving(), wall=clock.wall)
    seen: dict[str, object] = {}

    def send(name: str) -> None:
        limiter.acquire("a1")
        seen[name] = limiter.take_grant()
        seen[name + "-again"] = limiter.take_grant()  # taken once

    threads = [threading.Thread(target=send, args=(n,)) for n in ("x", "y")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen["x"] is not None and seen["y"] is not None
    assert seen["x-again"] is None and seen["y-again"] is None
    assert limiter.take_grant() is None  # this thread acquired nothing


def test_a_budget_is_reserved_from_t_when_the_inner_limiter_keeps_one():
    clock = Ticker(T - timedelta(seconds=4))
    inner = Reserving()
    limiter = StampingLimiter(inner, wall=clock.wall)
    assert limiter.reserve("a1", 3, T)
    [(account, count, start_in)] = inner.reserved
    assert (account, count) == ("a1", 3) and 3.9 < start_in <= 4.0
    assert not limiter.reserve("a1", 0, T)  # nothing to reserve


def test_a_failed_reservation_is_not_raised_and_an_in_process_limiter_has_none():
    clock = Ticker(T)
    assert not StampingLimiter(Reserving(RuntimeError("throttled")), clock.wall).reserve("a1", 2, T)
    in_process = StampingLimiter(SlidingWindowLimiter(8), clock.wall)
    assert not in_process.reserve("a1", 2, T)
    assert in_process.book("a1") == 0.0  # books from memory for the event loop
    assert StampingLimiter(Reserving(), clock.wall).book("a1") is None  # must acquire instead
