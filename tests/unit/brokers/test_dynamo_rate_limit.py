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
