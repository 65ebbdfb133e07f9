"""The cross-process limiter against an in-process DynamoDB mock (moto, no network): slots,
races between limiters that share the table, item shape and TTL."""

from __future__ import annotations

import threading

import pytest
from moto import mock_aws

from chalicelib.adapters.brokers.dynamo_rate_limit import DynamoRateLimiter
from chalicelib.adapters.dynamo import models
from chalicelib.adapters.dynamo.rate_items import RateLogItem
from tests.unit.brokers.test_rate_limit import max_in_any_window


@pytest.fixture
def table(monkeypatch):
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    meta = models.BaseItem.Meta
    saved = {k: getattr(meta, k, None) for k in ("table_name", "region", "host")}
    with mock_aws():
        models.bind_table("rate-test", "ap-south-1", None)
        RateLogItem._connection = None
        models.BaseItem.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
        yield
    for key, value in saved.items():
        setattr(meta, key, value)
    models.BaseItem._connection = None
    RateLogItem._connection = None


class Clock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start
        self.lock = threading.Lock()

    def time(self) -> float:
        with self.lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += max(0.0, seconds)


def test_slots_keep_at_most_n_per_window_and_item_is_keyed_per_account(table):
    clock = Clock()
    limiter = DynamoRateLimiter(8, margin=0.0, clock=clock.time, sleep=clock.sleep)
    slots = [limiter.acquire("acct-A") for _ in range(20)]
    assert max_in_any_window(slots) <= 8
    assert slots[8] - slots[0] == pytest.approx(1.0)
    item = RateLogItem.get(*RateLogItem.key("acct-A"))
    assert (item.pk, item.sk) == ("RATE#acct-A", "LOG")
    assert len(item.grants) == 8 and item.ttl is not None
    assert limiter.acquire("acct-B") == pytest.approx(clock.time())  # independent account


def test_two_limiters_sharing_the_table_never_exceed_n_together(table):
    """Two 'Lambdas' (own limiter objects, threads) on one account: the version check serialises."""
    clock = Clock()
    limiters = [
        DynamoRateLimiter(5, margin=0.0, clock=clock.time, sleep=lambda s: None) for _ in range(2)
    ]
    slots: list[float] = []
    lock = threading.Lock()

    def run(limiter: DynamoRateLimiter) -> None:
        for _ in range(10):
            slot = limiter.acquire("shared")
            with lock:
                slots.append(slot)

    threads = [threading.Thread(target=run, args=(lim,), daemon=True) for lim in limiters]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)  # generous: a loaded CI machine runs moto slowly
    assert not any(t.is_alive() for t in threads), "a limiter never returned"
    assert len(slots) == 20
    assert max_in_any_window(slots) <= 5


# ----- budgets reserved before T ------------------------------------------------------------
def _version(account: str) -> int:
    return RateLogItem.get(*RateLogItem.key(account), consistent_read=True).version


def _send(limiter: DynamoRateLimiter, clock: Clock, account: str, n: int, latency: float):
    """n requests one after another, each holding the thread for `latency` (the broker's reply):
    the instants they really left, on the shared virtual clock."""
    left = []
    for _ in range(n):
        limiter.acquire(account)
        left.append(clock.time())
        clock.sleep(latency)
    return left


def test_a_reserved_budget_serves_t_from_memory_with_one_write(table):
    clock = Clock()
    limiter = DynamoRateLimiter(8, clock=clock.time, sleep=clock.sleep)
    start = clock.time() + 1.0
    slots = limiter.reserve("acct-A", 40, start_in=1.0)
    assert len(slots) == 40 and slots[:8] == [start] * 8
    version = _version("acct-A")
    clock.sleep(1.0)  # the firer waits until T
    left = _send(limiter, clock, "acct-A", 40, latency=0.02)
    assert _version("acct-A") == version  # nothing written (or read-modified) at T
    assert all(t - start <= 8 * 0.02 for t in left[:8])  # the first 8 leave back to back
    assert max_in_any_window(left) <= 8
    assert left[8] - left[0] >= 1.0  # then paced at the account's budget


def test_budget_given_up_when_sends_fall_behind_goes_through_the_table(table):
    clock = Clock()
    limiter = DynamoRateLimiter(8, clock=clock.time, sleep=clock.sleep, hold=0.5)
    limiter.reserve("acct-A", 16, start_in=1.0)
    version = _version("acct-A")
    clock.sleep(1.0)
    left = _send(limiter, clock, "acct-A", 16, latency=0.3)  # slow broker: 8 take 2.4 s
    assert _version("acct-A") > version  # the late ones reserved through the table
    assert max_in_any_window(left) <= 8


def test_others_pace_behind_a_budget_however_late_it_is_used(table):
    """Another process places on the same account through the table while this one uses its
    budget late within `hold`: together never more than N in any window."""
    clock = Clock()
    firer = DynamoRateLimiter(8, clock=clock.time, sleep=lambda s: None, hold=0.5)
    other = DynamoRateLimiter(8, clock=clock.time, sleep=lambda s: None)
    firer.reserve("acct-A", 12, start_in=0.0)
    # the other process asks first (at the reserved start) and is placed after the budget
    others = [other.acquire("acct-A") for _ in range(10)]
    ours = [s + 0.5 for s in (firer.acquire("acct-A") for _ in range(12))]  # sent at the latest
    assert max_in_any_window(others + ours) <= 8
    assert min(others) >= max(ours[:8])


def test_an_early_caller_does_not_take_the_budget(table):
    clock = Clock()
    limiter = DynamoRateLimiter(8, clock=clock.time, sleep=clock.sleep)
    limiter.reserve("acct-A", 8, start_in=5.0)
    version = _version("acct-A")
    limiter.acquire("acct-A")  # a stop placed 5 s before T: not one of the budget's orders
    assert _version("acct-A") == version + 1
    assert clock.time() >= 1_800_000_005.0 + 0.5  # it waited behind the reserved burst
    left = _send(limiter, clock, "acct-A", 8, latency=0.0)
    assert max_in_any_window([1_800_000_005.5, *left]) <= 8
