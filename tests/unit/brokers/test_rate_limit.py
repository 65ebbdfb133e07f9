"""The per-account order-rate limiter: never more than N grants in any window, FIFO per account,
accounts independent, thread-safe; fake clocks so that nothing here waits in real time."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.adapters.brokers.rate_limit import (
    DEFAULT_RATE,
    HARD_MAX,
    SlidingWindowLimiter,
    checked_rate,
)
from tests.unit.brokers.virtual_clock import VirtualClock


class SteppingClock:
    """Single-thread fake: sleeping advances time."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


def max_in_any_window(times: list[float], window: float = 1.0) -> int:
    """The most grants in any half-open window [t, t + window) (windows start at a grant)."""
    ordered = sorted(times)
    best, j = 0, 0
    for i, start in enumerate(ordered):
        j = max(j, i)
        while j < len(ordered) and ordered[j] < start + window - 1e-9:
            j += 1
        best = max(best, j - i)
    return best


@settings(max_examples=200, deadline=None)
@given(
    rate=st.integers(1, HARD_MAX),
    gaps=st.lists(st.floats(0, 0.6, allow_nan=False), min_size=1, max_size=60),
    accounts=st.lists(st.sampled_from(["a", "b", "c"]), min_size=60, max_size=60),
)
def test_never_more_than_n_in_any_one_second_window(rate, gaps, accounts):
    clock = SteppingClock()
    limiter = SlidingWindowLimiter(rate, clock=clock.monotonic, sleep=clock.sleep)
    granted: dict[str, list[float]] = {}
    for gap, account in zip(gaps, accounts, strict=False):
        clock.sleep(gap)
        slot = limiter.acquire(account)
        assert slot >= clock.now - 1e-9 or slot == clock.now
        granted.setdefault(account, []).append(slot)
    for times in granted.values():
        assert times == sorted(times)
        assert max_in_any_window(times) <= rate


def test_default_rate_and_hard_cap():
    assert SlidingWindowLimiter().rate == DEFAULT_RATE == 8
    assert checked_rate(10) == 10
    for bad in (0, 11, 50):
        with pytest.raises(ValueError, match=r"1\.\.10"):
            SlidingWindowLimiter(bad)


def test_a_burst_is_let_through_up_to_n_then_paced():
    clock = SteppingClock()
    limiter = SlidingWindowLimiter(8, clock=clock.monotonic, sleep=clock.sleep)
    slots = [limiter.acquire("acct") - 1000.0 for _ in range(17)]
    assert slots[:8] == [0.0] * 8
    assert slots[8:16] == [1.0] * 8
    assert slots[16] == 2.0


def test_burst_of_50_on_one_account_is_paced_while_two_accounts_run_in_parallel():
    """50 orders on each of two accounts from 5 threads each, in virtual time."""
    threads_per_account, orders_per_thread = 5, 10
    clock = VirtualClock(participants=2 * threads_per_account)
    limiter = SlidingWindowLimiter(8, clock=clock.monotonic, sleep=clock.sleep)
    grants: dict[str, list[float]] = {"acct-A": [], "acct-B": []}
    lock = threading.Lock()

    def worker(account: str) -> None:
        try:
            for _ in range(orders_per_thread):
                limiter.acquire(account)
                with lock:
                    grants[account].append(clock.monotonic())
        finally:
            clock.done()

    threads = [
        threading.Thread(target=worker, args=(account,), daemon=True)
        for account in grants
        for _ in range(threads_per_account)
    ]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert not any(t.is_alive() for t in threads)
    assert time.monotonic() - started < 5  # virtual time: no real waiting

    for times in grants.values():
        assert len(times) == 50
        assert max_in_any_window(times) <= 8 < 10
        # 50 at 8/s: grants at 0,1,...,6 s -> the last one 6 s after the first
        assert max(times) - min(times) == pytest.approx(6.0)
    # the two accounts did not queue behind each other: both finished at the same virtual time
    assert max(grants["acct-A"]) == pytest.approx(max(grants["acct-B"]))
    assert clock.now == pytest.approx(6.0)


def test_real_threads_on_a_real_clock_with_a_short_window():
    """Bounded real-time check (0.05 s windows) that the lock holds under contention."""
    limiter = SlidingWindowLimiter(4, window=0.05)
    stamps: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(6):
            slot = limiter.acquire("acct")
            assert time.monotonic() >= slot  # never released before its slot
            with lock:
                stamps.append(slot)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=5)
    assert len(stamps) == 24
    # 24 grants at 4 per 50 ms need at least 5 full windows
    assert max(stamps) - min(stamps) >= 0.25 - 0.01
    assert max_in_any_window(stamps, window=0.05) <= 4
