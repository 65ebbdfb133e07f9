"""Two OS processes place on one broker account through the emulator's table: each reserves a
rate budget before T (one conditional write) and sends more than it reserved, with the broker's
latency between requests. Together they never put more than N requests in any one-second window.

Each process runs on its own virtual clock (sleep and latency advance it) from the same start,
so the check is on when requests would leave, not on how fast this machine is.
"""

from __future__ import annotations

import multiprocessing
import uuid
from typing import Any

from chalicelib.adapters.brokers.dynamo_rate_limit import DynamoRateLimiter
from chalicelib.adapters.dynamo import models
from chalicelib.adapters.dynamo.rate_items import RateLogItem
from tests.unit.brokers.test_rate_limit import max_in_any_window

RATE = 8
START = 1_800_000_000.0


class VirtualClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


def _process(job: dict[str, Any], ready: Any, out: Any) -> None:
    """One firer: reserve `budget` slots from T, then send `sends` requests `latency` apart."""
    models.bind_table(job["table"], job["region"], job["endpoint"], read_timeout=30)
    RateLogItem._connection = None
    clock = VirtualClock(START)
    limiter = DynamoRateLimiter(RATE, clock=clock.time, sleep=clock.sleep)
    ready.wait(timeout=60)  # both reserve at the same moment: their writes race
    limiter.reserve(job["account"], job["budget"], start_in=1.0)
    clock.sleep(1.0)  # until T
    left = []
    for _ in range(job["sends"]):
        limiter.acquire(job["account"])
        left.append(clock.time())
        clock.sleep(job["latency"])
    out.put((job["name"], left))


def test_two_processes_with_budgets_never_exceed_the_rate_together(settings, container):
    context = multiprocessing.get_context("spawn")
    ready, out = context.Barrier(2), context.Queue()
    account = f"acct-{uuid.uuid4().hex[:8]}"
    common = {"table": settings.table_name, "region": settings.region,
              "endpoint": settings.aws_endpoint_url, "account": account}  # fmt: skip
    jobs = [
        {**common, "name": "a", "budget": 12, "sends": 16, "latency": 0.03},
        {**common, "name": "b", "budget": 10, "sends": 14, "latency": 0.08},
    ]
    processes = [context.Process(target=_process, args=(j, ready, out)) for j in jobs]
    for process in processes:
        process.start()
    try:
        results = dict(out.get(timeout=180) for _ in processes)
    finally:
        for process in processes:
            process.join(timeout=30)
    assert all(p.exitcode == 0 for p in processes)
    every = results["a"] + results["b"]
    assert len(every) == 30
    print("max in any window:", max_in_any_window(every), "span s:", max(every) - min(every))
    assert max_in_any_window(every) <= RATE
    log = RateLogItem.get(*RateLogItem.key(account), consistent_read=True)  # container binds it
    assert log.version >= 2 + 4 + 4  # two budgets, then the sends past them went to the table
