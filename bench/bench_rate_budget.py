"""What the cross-process order-rate limiter costs each order at T, before and after budgets.

Before (issue #18): every order's `DynamoRateLimiter.acquire` at T was a consistent GetItem and a
conditional PutItem on the account's log item, so each order waited for two table round trips
(and the retries of lost races) on the hot path. After: the firer reserves each account's budget
before T with one read and one conditional write (`reserve`), and each order at T takes its slot
from memory.

Scenarios, on the emulator's table (moto, its own process, loopback):
  small   25 accounts x 4 orders = 100 orders, one thread per account (as the firer)
  paced   1 account x 40 orders (the first 8 at T, then 8 per 1.05 s)
Sleeps are skipped (the slots are computed, not waited for), so the figures are the limiter's
own cost per order; on AWS each table round trip is a few milliseconds in-region instead of the
emulator's, so the "before" cost scales with that latency and the "after" cost does not.

Run: .venv/bin/python bench/bench_rate_budget.py   (about a minute; writes bench/results/rate_budget.json)
"""

from __future__ import annotations

import platform
import sys
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rig import emulator_table, summary_ms, write_result

from chalicelib.adapters.brokers.dynamo_rate_limit import DynamoRateLimiter
from chalicelib.adapters.dynamo.metrics import count_requests
from chalicelib.adapters.dynamo.rate_items import RateLogItem  # noqa: F401

SCENARIOS = {"small": (25, 4), "paced": (1, 40)}


def _run(accounts: int, per_account: int, budget: bool) -> dict[str, Any]:
    limiter = DynamoRateLimiter(8, sleep=lambda _: None)
    names = [f"bench-{uuid.uuid4().hex[:8]}" for _ in range(accounts)]
    before_t: list[float] = []
    with count_requests() as reserve_requests:
        if budget:
            for name in names:
                started = time.perf_counter()
                limiter.reserve(name, per_account, start_in=0.0)
                before_t.append(time.perf_counter() - started)
    costs: list[float] = []

    def send_all(name: str) -> list[float]:
        spent = []
        for _ in range(per_account):
            started = time.perf_counter()
            limiter.acquire(name)
            spent.append(time.perf_counter() - started)
        return spent

    with count_requests() as at_t_requests, ThreadPoolExecutor(max_workers=accounts) as pool:
        for spent in pool.map(send_all, names):
            costs.extend(spent)
    orders = accounts * per_account
    return {
        "orders": orders,
        "limiter_ms_per_order_at_t": summary_ms(costs),
        "dynamodb_requests_at_t": dict(at_t_requests),
        "dynamodb_requests_at_t_per_order": round(sum(at_t_requests.values()) / orders, 2),
        "before_t_reserve_ms_per_account": summary_ms(before_t) if before_t else None,
        "dynamodb_requests_before_t": dict(reserve_requests) if budget else {},
    }


def main() -> None:
    results: dict[str, Any] = {
        "machine": {"cpus": 2, "python": platform.python_version()},
        "backend": "emulator (moto server on loopback)",
    }
    with emulator_table(f"bench-rate-{uuid.uuid4().hex[:6]}"):
        for scenario, (accounts, per_account) in SCENARIOS.items():
            results[scenario] = {
                "before_acquire_per_order": _run(accounts, per_account, budget=False),
                "after_reserved_budget": _run(accounts, per_account, budget=True),
            }
            for label, figures in results[scenario].items():
                cost = figures["limiter_ms_per_order_at_t"]
                print(
                    f"{scenario:5} {label:24} limiter at T per order: p50 {cost['p50']} ms, "
                    f"p99 {cost['p99']} ms; DynamoDB requests at T per order: "
                    f"{figures['dynamodb_requests_at_t_per_order']} "
                    f"{dict(Counter(figures['dynamodb_requests_at_t']))}",
                    flush=True,
                )
    path = write_result("rate_budget.json", results)
    print(f"written {path}")


if __name__ == "__main__":
    main()
