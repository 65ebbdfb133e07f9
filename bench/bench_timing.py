"""Send precision of the execution engine: planner before T, firer at T, against fake brokers.

Three scenarios, each at its own slot on a trading day (Wed 2026-11-25, IST), users created
through the services and logged in through each fake broker's redirect, live quotes from the
fake Kite of each user:

  small   25 accounts (zerodha/kite, fyers, shoonya/noren) x 4 legs = 100 orders, fire lead 3 s (the fire Lambda's WAKE_BEFORE)
          (what a fire Lambda sees: it wakes at T-1s)
  large   250 accounts x 4 legs = 1,000 orders in ONE Firer.fire (the local clock process),
          with CPU time of the fire path per order
  paced   1 zerodha account x 40 legs (10 strategies x 4 legs at the same minute): the first
          rate-budget's worth at T, the rest paced by the per-account limiter

Per order: sent_at - scheduled_at (the firer's own stamp), the fake broker's receive time (its
CLOCK_MONOTONIC, mapped onto the shifted clock) - scheduled_at, and acked_at - scheduled_at.
The emulator (moto, its own process) and the fake brokers (their own process) share the 2 cores
with this process, so the figures are an upper bound of what the code costs.

Beside the firer (small and large): the limit sender (bench/limit_sender.py) sends the same
planned orders' bytes, built by the same adapters, just before the firer fires them, against the
same fakes in the same run; --rounds N repeats the pair N times (each at its own slot).

Run: .venv/bin/python bench/bench_timing.py [--scenarios small,large,paced] [--rounds 3]
Writes bench/results/timing.json.
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import limit_sender
from rig import (
    ShiftedClock,
    count_all_requests,
    emulator_table,
    fake_brokers,
    kms_key,
    log_in,
    settings,
    summary_ms,
    write_result,
)

from chalicelib.adapters.brokers.wire_lanes import HttpWireSender
from chalicelib.adapters.dynamo.models import BaseItem, OrderItem
from chalicelib.api.strategy_schemas import StrategyIn
from chalicelib.container import Container
from chalicelib.domain.calendar import IST
from chalicelib.services.firer import Firer, _hedges_first
from tests.factories import four_leg_strategy

DAY = datetime(2026, 11, 25, tzinfo=IST)  # a Wednesday and a trading day
# Upstox, Angel and Dhan orders need the instrument master's token, which the container's
# MarketModel does not load yet (InvalidOrder "load the upstox master"): Fyers is the third dialect.
BROKERS = ("zerodha", "fyers", "shoonya")


class TimedFirer(Firer):
    """The container's firer, recording when (and at what CPU time) it starts and ends waiting."""

    marks: dict[str, float]

    def wait_until(self, moment: datetime) -> None:
        self.marks = {"wait_start_mono": time.monotonic(), "wait_start_cpu": time.process_time()}
        self.marks["left_at_wait_start_s"] = (moment - self.wall()).total_seconds()
        super().wait_until(moment)
        self.marks.update(wait_end_mono=time.monotonic(), wait_end_cpu=time.process_time())


def strategy_body(basket: str, accounts: list[str], minute: str) -> dict[str, Any]:
    """The iron condor of the tests, 4 legs x 1 lot on every one of `accounts`."""
    body = four_leg_strategy(basket, accounts[0], accounts[0])
    body["allocations"] = [{"account_id": a, "multiplier": 1} for a in accounts]
    for leg in body["legs"]:
        leg.pop("allocations", None)
    body["entry"] = {"time": f"{minute}:00", "days": ["WED"]}
    return body


def populate(container: Container, fakes: Any, tag: str, slot: datetime, accounts: int,
             strategies_per_user: int = 1, brokers: tuple[str, ...] = BROKERS) -> dict[str, Any]:  # fmt: skip
    """Users of up to len(brokers) accounts each (the first is Kite-dialect, for quotes), one
    basket, strategies allocated to all the user's accounts."""
    started = time.perf_counter()
    minute = slot.strftime("%H:%M")
    users, client_ids, made = 0, [], 0
    while made < accounts:
        uid = f"{tag}-user-{users}"
        mine = []
        for broker in brokers[: min(len(brokers), accounts - made)]:
            client_id = f"{tag.upper()}{users:03d}{broker[:2].upper()}"
            mine.append(log_in(container, fakes, uid, broker, client_id, slot + timedelta(hours=8)))
            client_ids.append(client_id)
            made += 1
        basket = container.baskets.create(uid, f"{tag} basket", True).basket_id
        for _ in range(strategies_per_user):
            body = strategy_body(basket, mine, minute)
            container.strategies.create(uid, StrategyIn.model_validate(body).to_domain())
        users += 1
    return {"users": users, "accounts": accounts, "client_ids": client_ids,
            "setup_s": round(time.perf_counter() - started, 1)}  # fmt: skip


def run(container: Container, fakes: Any, clock: ShiftedClock, slot: datetime, lead_s: float,
        client_ids: list[str], expected: int, max_workers: int = 32,
        with_limit: bool = False) -> dict[str, Any]:  # fmt: skip
    # plan in the minute before T, as the plan Lambda / the clock does
    clock.set(slot - timedelta(seconds=50))
    with count_all_requests() as plan_requests:
        started = time.perf_counter()
        plan = container.planner.plan(slot)
        plan_wall = time.perf_counter() - started
    orders = plan.orders
    errors = [e for x in plan.executions for e in x.errors]
    assert len(orders) == expected and not errors, (len(orders), expected, errors[:3])

    limit = limit_run(container, fakes, orders, client_ids) if with_limit else None

    firer = TimedFirer(
        adapter_for=container.broker_access.adapter, market=container.market, wall=clock,
        max_workers=max_workers, stamps=container.limiter, executions=container.executions,
        wire=HttpWireSender(),
    )  # fmt: skip
    clock.set(slot - timedelta(seconds=lead_s))
    fire_start_mono = time.monotonic()
    with count_all_requests() as fire_requests:
        cpu0 = time.process_time()
        outcome = firer.fire(orders)
        cpu1 = time.process_time()
    fire_end_mono = time.monotonic()
    marks = firer.marks

    stored = [o for o in BaseItem.batch_get([(o.pk, o.sk) for o in orders]) if isinstance(o, OrderItem)]  # fmt: skip
    sent = [(_at(o.sent_at) - slot).total_seconds() for o in stored if o.sent_at]
    acked = [(_at(o.acked_at) - slot).total_seconds() for o in stored if o.acked_at]
    ours = set(client_ids)
    received = [
        r for r in fakes.received()
        if r["account"] in ours and fire_start_mono * 1e9 <= r["monotonic_ns"] <= fire_end_mono * 1e9
    ]  # fmt: skip
    recv = sorted(
        (clock.at_monotonic_ns(r["monotonic_ns"]) - slot).total_seconds() for r in received
    )
    buy_first = _buy_before_sell(stored)
    send_cpu = cpu1 - marks["wait_end_cpu"]
    result = {
        "orders": len(orders),
        "accounts": len({o.account_id for o in orders}),
        "outcome": outcome,
        "failures": dict(
            Counter((o.error or {}).get("code") for o in stored if o.status == "FAILED")
        ),
        "plan_wall_s": round(plan_wall, 3),
        "plan_dynamodb_requests": dict(plan_requests),
        "plan_stats": plan.stats,
        "fire_lead_s": lead_s,
        "fire_prep_s": round(marks["wait_start_mono"] - fire_start_mono, 3),
        "fire_time_left_at_wait_s": round(marks["left_at_wait_start_s"], 3),
        "fire_dynamodb_requests": dict(fire_requests),
        "sent_minus_scheduled_ms": summary_ms(sent),
        "broker_received_minus_scheduled_ms": summary_ms(recv),
        "acked_minus_scheduled_ms": summary_ms(acked),
        "early_sends": sum(1 for s in sent if s < 0) + sum(1 for r in recv if r < 0),
        "buy_before_sell_every_account": buy_first,
        "cpu_fire_total_ms": round((cpu1 - cpu0) * 1000, 1),
        "cpu_fire_per_order_ms": round((cpu1 - cpu0) * 1000 / len(orders), 3),
        "cpu_send_phase_per_order_ms": round(send_cpu * 1000 / len(orders), 3),
        "cpu_prep_ms": round((marks["wait_start_cpu"] - cpu0) * 1000, 1),
        # thread CPU measured by the firer itself: the hot path at T is the "send" stage only
        "cpu_hot_path_per_order_ms": round(firer.last_cpu.get("send", 0) * 1000 / len(orders), 3),
        "cpu_record_per_order_ms": round(firer.last_cpu.get("record", 0) * 1000 / len(orders), 3),
        "send_phase_wall_s": round(fire_end_mono - marks["wait_end_mono"], 3),
        "max_workers": max_workers,
    }
    if limit is not None:
        result["limit_sender"] = limit
        result["receive_p99_ratio_firer_to_limit"] = round(
            result["broker_received_minus_scheduled_ms"]["p99"]
            / limit["broker_received_minus_T_ms"]["p99"], 2
        )  # fmt: skip
    result["_orders"] = sorted(
        ({"account": o.account_id, "side": o.request["side"], "leg": o.request["leg"],
          "sent_ms": _ms(o.sent_at, slot), "acked_ms": _ms(o.acked_at, slot)} for o in stored),
        key=lambda r: r["sent_ms"] if r["sent_ms"] is not None else math.inf,
    )  # fmt: skip
    result["_received_ms"] = [round(r * 1000, 2) for r in recv]
    return result


def limit_run(container: Container, fakes: Any, orders: list[OrderItem],
              client_ids: list[str]) -> dict[str, Any]:  # fmt: skip
    """The same orders through the limit sender (bench/limit_sender.py), 1 s after it is ready:
    bytes from the adapters, one socket per account, one loop; receive times at the fakes."""
    by_account: dict[tuple[str, str], list[OrderItem]] = {}
    for order in orders:
        by_account.setdefault((order.uid, order.account_id), []).append(order)
    helper = Firer(
        adapter_for=container.broker_access.adapter,
        market=container.market,
        executions=container.executions,
    )
    prepared = []
    for (uid, account), group in by_account.items():
        adapter = container.broker_access.adapter(uid, account)
        prepared.append([adapter.prepare_place(helper._request(o)) for o in _hedges_first(group)])
    accounts = limit_sender.open_accounts(prepared)
    t_mono = time.monotonic() + 1.0
    figures = limit_sender.send_at(accounts, t_mono)
    ours = set(client_ids)
    window = (t_mono - 0.5) * 1e9, (t_mono + figures["wall_s"] + 1.0) * 1e9
    recv = sorted(
        r["monotonic_ns"] / 1e9 - t_mono for r in fakes.received()
        if r["account"] in ours and window[0] <= r["monotonic_ns"] <= window[1]
    )  # fmt: skip
    return {
        "orders": len(orders),
        "received": len(recv),
        "broker_received_minus_T_ms": summary_ms(recv),
        "cpu_send_per_order_ms": round(figures["cpu_s"] * 1000 / len(orders), 4),
        "send_wall_s": round(figures["wall_s"], 3),
    }


def _at(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


def _ms(iso: str | None, slot: datetime) -> float | None:
    return round((_at(iso) - slot).total_seconds() * 1000, 2) if iso else None


def _buy_before_sell(stored: list[OrderItem]) -> bool:
    by_account: dict[str, list[OrderItem]] = {}
    for o in stored:
        by_account.setdefault(o.account_id, []).append(o)
    for group in by_account.values():
        sides = [o.request["side"] for o in sorted(group, key=lambda o: o.sent_at or "")]
        if sides != sorted(sides):
            return False
    return True


def report(name: str, r: dict[str, Any]) -> None:
    s, b, a = (r["sent_minus_scheduled_ms"], r["broker_received_minus_scheduled_ms"],
               r["acked_minus_scheduled_ms"])  # fmt: skip
    print(f"\n[{name}] {r['orders']} orders on {r['accounts']} accounts: {r['outcome']}"
          f"{' failures ' + str(r['failures']) if r['failures'] else ''}")  # fmt: skip
    print(f"  plan {r['plan_wall_s']} s (emulator), DynamoDB {r['plan_dynamodb_requests']}")
    print(f"  fire: lead {r['fire_lead_s']} s, prep before the wait {r['fire_prep_s']} s "
          f"({r['fire_time_left_at_wait_s']} s left), send phase {r['send_phase_wall_s']} s")  # fmt: skip
    for label, x in (("sent_at - scheduled_at", s), ("broker receive - scheduled", b),
                     ("acked_at - scheduled_at", a)):  # fmt: skip
        print(f"  {label:<28} p50 {x['p50']:>8} ms  p99 {x['p99']:>8} ms  max {x['max']:>8} ms"
              f"  (min {x['min']}, n={x['n']})")  # fmt: skip
    print(f"  CPU in Firer.fire {r['cpu_fire_total_ms']} ms = {r['cpu_fire_per_order_ms']} ms/order"
          f" (send phase only {r['cpu_send_phase_per_order_ms']} ms/order; prep {r['cpu_prep_ms']} ms)")  # fmt: skip
    print(f"  hot path at T (HTTP sends, thread CPU) {r['cpu_hot_path_per_order_ms']} ms/order;"
          f" recording results after the sends {r['cpu_record_per_order_ms']} ms/order")  # fmt: skip
    if "limit_sender" in r:
        lim = r["limit_sender"]
        x = lim["broker_received_minus_T_ms"]
        print(f"  LIMIT SENDER receive - T       p50 {x['p50']:>8} ms  p99 {x['p99']:>8} ms  max "
              f"{x['max']:>8} ms  (n={x['n']}); CPU {lim['cpu_send_per_order_ms']} ms/order")  # fmt: skip
        print(f"  firer / limit on receive p99: {r['receive_p99_ratio_firer_to_limit']}x")
    print(f"  BUY before SELL on every account: {r['buy_before_sell_every_account']}; "
          f"early sends: {r['early_sends']}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenarios", default="small,large,paced")
    parser.add_argument(
        "--stage",
        default="local",
        help="local: in-process rate limiter; prod: the DynamoDB one (AWS)",
    )
    parser.add_argument("--small-accounts", type=int, default=25)
    parser.add_argument("--large-accounts", type=int, default=250)
    parser.add_argument("--large-lead", type=float, default=20.0,
                        help="seconds between fire() and T for the large run (adapter prep)")  # fmt: skip
    parser.add_argument("--large-workers", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=1,
                        help="limit sender + firer pairs per scenario (each at its own slot)")  # fmt: skip
    parser.add_argument("--large-rounds", type=int, default=1)
    parser.add_argument("--limit", action=argparse.BooleanOptionalAction, default=True,
                        help="run the limit sender on the same orders just before the firer")  # fmt: skip
    args = parser.parse_args()
    wanted = args.scenarios.split(",")
    results: dict[str, Any] = {
        "stage": args.stage,
        "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version()},
        "day": DAY.date().isoformat(),
    }
    table = "bench-timing"
    with emulator_table(table) as url, fake_brokers(["kite", "fyers", "noren"]) as fakes:
        clock = ShiftedClock(DAY.replace(hour=9, minute=10))
        container = Container(
            settings(url, kms_key(url), fakes.hosts(), table, args.stage), clock=clock
        )
        plans = {
            "small": (DAY.replace(hour=9, minute=20), args.small_accounts, 1, BROKERS, 3.0, 256),
            "large": (DAY.replace(hour=9, minute=21), args.large_accounts, 1, BROKERS,
                      args.large_lead, args.large_workers),
            "paced": (DAY.replace(hour=9, minute=22), 1, 10, ("zerodha",), 3.0, 256),
        }  # fmt: skip
        count = {"paced": 1, "large": args.large_rounds}  # the emulator slows as tables grow
        rounds = [(name, k) for name in wanted
                  for k in range(count.get(name, args.rounds))]  # fmt: skip
        for name, k in rounds:
            slot, accounts, per_user, brokers, lead, workers = plans[name]
            slot += timedelta(minutes=10 * k)
            clock.set(slot - timedelta(minutes=5))
            tag = name if k == 0 else f"{name}{k}"
            setup = populate(container, fakes, tag, slot, accounts, per_user, brokers)
            print(
                f"[{name}] set up {setup['users']} users / {accounts} accounts in {setup['setup_s']} s"
            )
            expected = accounts * 4 * per_user
            r = run(container, fakes, clock, slot, lead, setup["client_ids"], expected, workers,
                    with_limit=args.limit and name != "paced")  # fmt: skip
            r["users"], r["setup_s"] = setup["users"], setup["setup_s"]
            report(name, r)
            if name == "paced":
                first = r["_received_ms"][:8]
                print(f"  first 8 received at (ms after T): {first}")
                print(f"  all 40 sent_at (ms): {[o['sent_ms'] for o in r['_orders']]}")
                print(f"  all 40 broker receive (ms): {r['_received_ms']}")
                r["first_8_received_within_20ms"] = bool(first) and max(first) < 20
                r["max_in_any_1s_window_at_broker"] = _max_in_window(r["_received_ms"], 1000)
                print(f"  max order requests in any 1 s window at the broker: "
                      f"{r['max_in_any_1s_window_at_broker']}")  # fmt: skip
            else:
                r.pop("_orders")
                r.pop("_received_ms")
            if count.get(name, args.rounds) > 1:
                results.setdefault(f"{name}_rounds", []).append(r)
            results.setdefault(name, r)
        for name in wanted:
            runs = results.get(f"{name}_rounds") or []
            if runs and "limit_sender" in runs[0]:
                results[f"{name}_summary"] = summarise(runs)
                print(f"\n[{name}] over {len(runs)} rounds: {results[f'{name}_summary']}")
    path = write_result(
        "timing.json" if args.stage == "local" else f"timing-{args.stage}.json", results
    )
    print(f"\nwritten to {path}")


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each round's firer and limit p99 at the broker, their ratio, and the medians."""
    firer = [r["broker_received_minus_scheduled_ms"]["p99"] for r in runs]
    limit = [r["limit_sender"]["broker_received_minus_T_ms"]["p99"] for r in runs]
    ratios = [r["receive_p99_ratio_firer_to_limit"] for r in runs]
    hot = [r["cpu_hot_path_per_order_ms"] for r in runs]
    return {
        "firer_receive_p99_ms": firer, "limit_receive_p99_ms": limit, "ratio": ratios,
        "median_firer_p99_ms": statistics.median(firer),
        "median_limit_p99_ms": statistics.median(limit),
        "ratio_of_medians": round(statistics.median(firer) / statistics.median(limit), 2),
        "median_ratio": statistics.median(ratios),
        "firer_hot_path_cpu_per_order_ms": hot,
    }  # fmt: skip


def _max_in_window(times_ms: list[float], window_ms: float) -> int:
    best = 0
    for i, start in enumerate(times_ms):
        best = max(best, sum(1 for t in times_ms[i:] if t - start < window_ms))
    return best


if __name__ == "__main__":
    main()
