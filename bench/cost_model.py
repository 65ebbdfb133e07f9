"""Cost per trading day from the measured request counts (bench/results/requests_per_tick.json and
timing.json), at assumed ap-south-1 list prices. docs/cost.md explains every line.

Run: .venv/bin/python bench/cost_model.py   (after the two benchmarks; writes results/cost_model.json)
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"

# List prices as known to us (ap-south-1, on-demand); they may have changed: check the AWS pages.
PRICE = {
    "lambda_gb_s": 0.0000166667,
    "lambda_request": 0.20 / 1e6,
    "sfn_transition": 0.025 / 1000,
    "ddb_write_unit": 1.4231 / 1e6,
    "ddb_read_unit": 0.2846 / 1e6,
    "scheduler_invocation": 1.00 / 1e6,
}
TICKS = 420  # cron(* 9-15 ? * MON-FRI *) in Asia/Kolkata: 09:00-15:59
MEMORY_GB = 0.5  # .chalice/config.json lambda_memory_size 512 (fire)
PLAN_MEMORY_GB = 1.769  # .chalice/config.json plan_tick: one vCPU
PLAN_PARTS = 1  # infra/variables.tf plan_parts (the default)
GATHER_S = 0.1  # the plan Lambda's gather of the parts' answers (no I/O)
ACCOUNTS_PER_BATCH = 5  # TickPlan.batches()
RATE = 8  # orders/s per account (SlidingWindowLimiter default)
LEGS = 4


def scenario(users: int, strategies_per_user: int, accounts_per_user: int,
             rpt: dict[str, Any], timing: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """Every strategy enters at one minute and exits at another: 2 busy ticks, 418 empty."""
    big = max(rpt["rows"], key=lambda r: r["due_strategies"] if "plan" in r else 0)
    order_kb = math.ceil(big["plan"]["order_item_bytes"] * 1.4 / 1024)  # + sent/acked/history
    exec_kb = math.ceil(big["plan"]["execution_item_bytes"] / 1024)
    strategies = users * strategies_per_user
    accounts = users * accounts_per_user
    orders = strategies * LEGS * accounts_per_user  # per busy tick (exit closes as many)
    batches = math.ceil(accounts / ACCOUNTS_PER_BATCH)
    busy = 2

    # Step Functions (infra/tick.asl.json.tftpl): every tick Parts, PlanParts (Map), one
    # PlanPart per part, Plan (the gather); then an empty tick AnythingDue, NothingDue; a busy
    # one AnythingDue, WaitUntilFire, Fire + one FireBatch per batch
    transitions = (TICKS - busy) * (5 + PLAN_PARTS) + busy * (6 + PLAN_PARTS + batches)

    # Lambda durations (s). Empty plan: 4 GSI2 Queries; busy plan scales with the measured
    # full-plan time per strategy (emulator), fire: the 1 s pre-T sleep + the paced sends of the
    # busiest account + the measured CPU per order at a 512 MB Lambda's ~0.29 vCPU.
    plan_per_strategy = big["plan"]["wall_s"] / big["due_strategies"]
    empty_plan_s = 0.2
    busy_plan_s = 1.0 + strategies * plan_per_strategy
    orders_per_account = strategies_per_user * LEGS
    cpu_per_order = timing["small"]["cpu_fire_per_order_ms"] / 1000
    orders_per_batch = orders / batches
    fire_s = (
        1.0 + max((orders_per_account - RATE) / RATE, 0) + orders_per_batch * cpu_per_order / 0.29
    )
    gb_s = (
        PLAN_MEMORY_GB
        * (
            (TICKS - busy) * (PLAN_PARTS * empty_plan_s + GATHER_S)
            + busy * (busy_plan_s + GATHER_S)
        )
        + MEMORY_GB * busy * batches * fire_s
    )
    invocations = TICKS * (PLAN_PARTS + 1) + busy * batches

    # DynamoDB. Reads: empty tick 4 Queries x 0.5 RRU minimum. Busy tick: GSI2 Queries
    # (schedule items, eventually consistent), consistent BatchGet of accounts + sessions, the
    # kill-switch Query per (strategy, account), the fire Lambda's BatchGet of its orders and
    # GetItems of account + session per account (consistent).
    sched_bytes = big["discovery"]["schedule_item_bytes"] * strategies
    busy_reads = (4 * 0.5 + math.ceil(sched_bytes / 4096) * 0.5 + 2 * accounts
                  + 0.5 * strategies * accounts_per_user + orders + 2 * accounts)  # fmt: skip
    reads = (TICKS - busy) * 2.0 + busy * busy_reads
    # Writes: gate put + status update per strategy; per order: put (table + GSI1), claim
    # update (table + GSI1), SENT update (table + GSI1); settlement is not counted.
    busy_writes = strategies * 2 * exec_kb + orders * 3 * 2 * order_kb
    writes = busy * busy_writes

    cost = {
        "step_functions": transitions * PRICE["sfn_transition"],
        "lambda_compute": gb_s * PRICE["lambda_gb_s"],
        "lambda_requests": invocations * PRICE["lambda_request"],
        "dynamodb_writes": writes * PRICE["ddb_write_unit"],
        "dynamodb_reads": reads * PRICE["ddb_read_unit"],
        "scheduler": TICKS * PRICE["scheduler_invocation"],
    }
    total = sum(cost.values())
    return {
        "users": users, "strategies": strategies, "accounts": accounts,
        "orders_per_busy_tick": orders, "fire_batches": batches,
        "sfn_transitions": transitions, "lambda_invocations": invocations,
        "lambda_gb_s": round(gb_s, 1), "busy_plan_s": round(busy_plan_s, 2),
        "fire_lambda_s": round(fire_s, 2), "ddb_write_units": writes, "ddb_read_units": reads,
        "usd_per_day": {k: round(v, 5) for k, v in cost.items()},
        "usd_per_day_total": round(total, 4),
        "usd_per_user_day": round(total / users, 5),
    }  # fmt: skip


def main() -> None:
    try:
        rpt = json.loads((RESULTS / "requests_per_tick.json").read_text())
        timing = json.loads((RESULTS / "timing.json").read_text())
    except FileNotFoundError as error:
        sys.exit(f"run the benchmarks first: {error}")
    out = {
        "prices": PRICE,
        "one_user_10_strategies": scenario(1, 10, 2, rpt, timing),
        "hundred_users_10_strategies_each": scenario(100, 10, 2, rpt, timing),
    }
    for name in ("one_user_10_strategies", "hundred_users_10_strategies_each"):
        s = out[name]
        print(f"{name}: total ${s['usd_per_day_total']}/day, ${s['usd_per_user_day']}/user-day")
        for k, v in sorted(s["usd_per_day"].items(), key=lambda kv: -kv[1]):
            print(f"   {k:<16} ${v:.5f}")
        print(f"   ({s['sfn_transitions']} transitions, {s['lambda_invocations']} invocations, "
              f"{s['lambda_gb_s']} GB-s, {s['ddb_write_units']} WRU, {s['ddb_read_units']} RRU)")  # fmt: skip
    (RESULTS / "cost_model.json").write_text(json.dumps(out, indent=2) + "\n")
    print(f"written to {RESULTS / 'cost_model.json'}")


if __name__ == "__main__":
    main()
