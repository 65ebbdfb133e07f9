"""DynamoDB requests (and read/write units) per tick: the GSI2 planner against the original design's
per-user / per-account / per-basket / per-strategy reads, on the same data in the same run.

For each size N (due strategies at one minute), a fresh table on the emulator holds N strategies
over ceil(N/3) users; each user has 2 broker accounts with sessions, 1 basket and up to 3
strategies (4 legs: 4 orders on the first account, 3 x2 lots on the second: 7 orders each), all
entering at the same Wednesday minute. Measured:

  discovery   what the planner reads to know what to do: Repository.due (one Query per GSI2 shard)
              + accounts_and_sessions (BatchGet, 100 keys a request)
  original    the original system's pattern as plain Query/GetItem calls (boto3, same table): list
              the users (GSI1 "ACCOUNTS"), then for every user Query its accounts, GetItem each
              account's session, Query its baskets, Query each basket's strategies (GSI1), GetItem
              each strategy to see whether it is due
  plan        the whole Planner.plan (gates, orders built and stored), quotes synthetic (the quote
              fetches are broker HTTP, not DynamoDB), kill-switch and exit hooks off; in
              ``--parts`` parts (4, as the tick state machine plans), each planned on its own
              one after another so that each part's CPU and requests are its own, then the AWS
              model: the parts concurrently, one plan Lambda each, plus the gather

Requests are counted on every model's botocore client. Read/write units are computed from the
measured item sizes with DynamoDB's rounding (reads 4 KB, eventually consistent = half; writes
1 KB, plus one write per GSI the item is in). Times are the emulator's (moto, single process).

Run: .venv/bin/python bench/bench_requests_per_tick.py [--sizes 10,100,1000,10000]
     [--plan-sizes 10,100,1000]   (a full plan at 10,000 is ~24,000 emulator requests)
     [--parts 4] [--plan-workers 16] [--out requests_per_tick.json]
Writes bench/results/requests_per_tick.json.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import sys
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import boto3
from rig import REGION, count_all_requests, emulator_table, write_result

from chalicelib.adapters.dynamo.execution_repository import ExecutionRepository
from chalicelib.adapters.dynamo.models import (
    AccountItem,
    BaseItem,
    BasketItem,
    ExecutionItem,
    OrderItem,
    SessionItem,
    StrategyItem,
    bind_table,
)
from chalicelib.adapters.dynamo.plan_store import DynamoPlanStore
from chalicelib.adapters.dynamo.repository import Repository
from chalicelib.adapters.market.synthetic_quotes import SyntheticQuotes
from chalicelib.api.strategy_schemas import StrategyIn
from chalicelib.domain.calendar import IST
from chalicelib.domain.market_model import MarketModel
from chalicelib.domain.plan_parts import all_parts
from chalicelib.domain.schedule import schedule_entries
from chalicelib.domain.strategy_documents import to_document
from chalicelib.services.order_builder import OrderBuilder
from chalicelib.services.planner import Planner
from chalicelib.services.tick_plan import TickPlan
from tests.factories import four_leg_strategy

SHARDS = 4
DAY = datetime(2026, 11, 25, tzinfo=IST)  # Wednesday, trading day
PER_USER = 3
#: DynamoDB's documented "single-digit millisecond" latency, taken at its worst (10 ms a request).
AWS_LATENCY_S = 0.010
#: The plan Lambda starts 60 s before T; the fire Lambdas take over 5 s before T (jobs/tick.py).
PLAN_BUDGET_S = 50
EMULATOR_READ_TIMEOUT_S = 60.0
#: The gather step after the parts: one warm invocation of the plan Lambda (no table request),
#: taken at Step Functions' and Lambda's worst usual overhead.
GATHER_S = 0.2
#: The busiest of 4 parts over random uids: 8% more than a quarter of the strategies in the
#: 10,000 run (3,334 users); tests/unit/domain/test_plan_parts.py bounds it at 15% for 4,000
#: uids. The model takes 10%.
PART_SKEW = 1.10


# -- item sizes and units (DynamoDB's published sizing rules, approximated) ----------------------
def _value_size(value: dict[str, Any]) -> int:
    (kind, v), = value.items()  # fmt: skip
    if kind == "S":
        return len(v.encode())
    if kind == "N":
        return (len(str(v).lstrip("-").replace(".", "")) + 1) // 2 + 1
    if kind == "B":
        return len(v)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_size(x) + 1 for k, x in v.items())
    if kind == "L":
        return 3 + sum(_value_size(x) + 1 for x in v)
    return len(str(v))


def item_size(raw: dict[str, Any]) -> int:
    """Bytes of an item in DynamoDB's wire form {name: {type: value}}."""
    return sum(len(k.encode()) + _value_size(v) for k, v in raw.items())


def size_of(item: BaseItem) -> int:
    return item_size(item.serialize())


def read_units(sizes: list[int], consistent: bool) -> float:
    return math.ceil(sum(sizes) / 4096) * (1 if consistent else 0.5)


# -- data -----------------------------------------------------------------------------------------
def cognito_uid(n: int) -> str:
    """A uid shaped like a Cognito sub (a random UUID): the plan parts split users by its first
    hex digit, so the bench spreads its users the way production does."""
    return str(uuid.UUID(bytes=hashlib.blake2b(f"user-{n}".encode(), digest_size=16).digest()))


def populate(repo: Repository, size: int, minute: str) -> dict[str, Any]:
    users = math.ceil(size / PER_USER)
    expires = (DAY + timedelta(hours=20)).isoformat()
    counts: Counter[str] = Counter()
    with BaseItem.batch_write() as batch:
        made = 0
        for u in range(users):
            uid = cognito_uid(u)
            accounts = [f"acct{u:05d}a", f"acct{u:05d}b"]
            for account_id, broker in zip(accounts, ("zerodha", "fyers"), strict=True):
                gsi1pk, gsi1sk = AccountItem.all_accounts_key(uid, account_id)
                batch.save(AccountItem(*AccountItem.key(uid, account_id), gsi1pk=gsi1pk,
                                       gsi1sk=gsi1sk, uid=uid, account_id=account_id, broker=broker,
                                       client_id=account_id.upper(), label=broker, version=1))  # fmt: skip
                batch.save(SessionItem(*SessionItem.key(uid, account_id), uid=uid,
                                       account_id=account_id, broker=broker,
                                       sealed={"ciphertext": "x" * 180, "key": "y" * 240},
                                       expires_at=expires))  # fmt: skip
                counts["accounts"] += 1
            basket = f"bskt{u:05d}"
            batch.save(BasketItem(*BasketItem.key(uid, basket), uid=uid, basket_id=basket,
                                  name="weekly", enabled=1, version=1))  # fmt: skip
            body = four_leg_strategy(basket, *accounts)
            body["entry"] = {"time": f"{minute}:00", "days": ["WED"]}
            strategy = StrategyIn.model_validate(body).to_domain()
            for s in range(min(PER_USER, size - made)):
                sid = f"s{u:05d}x{s}{minute.replace(':', '')}"
                gsi1pk, gsi1sk = StrategyItem.basket_index_key(uid, basket, sid)
                item = StrategyItem(*StrategyItem.key(uid, sid), gsi1pk=gsi1pk, gsi1sk=gsi1sk,
                                    uid=uid, strategy_id=sid, basket_id=basket,
                                    spec=to_document(strategy))  # fmt: skip
                batch.save(item)
                for entry in schedule_entries(sid, strategy):
                    batch.save(repo.schedule_item(item, entry))
                    counts["schedule_items"] += 1
                made += 1
    return {"users": users, **counts}


# -- the original design's reads -------------------------------------------------------------------
def original_pattern(table: str, url: str, weekday: str, minute: str) -> dict[str, Any]:
    """Every user -> accounts -> session of each -> baskets -> strategies of each basket -> each
    strategy; returns the due strategies found, the request count and the bytes read."""
    client = boto3.client("dynamodb", region_name=REGION, endpoint_url=url)
    calls: Counter[str] = Counter()
    query_units = get_units = 0.0

    def query(**kwargs: Any) -> list[dict[str, Any]]:
        nonlocal query_units
        items, start = [], None
        while True:
            page = client.query(
                TableName=table, **kwargs, **({"ExclusiveStartKey": start} if start else {})
            )
            calls["Query"] += 1
            query_units += read_units([item_size(i) for i in page["Items"]], consistent=False)
            items.extend(page["Items"])
            start = page.get("LastEvaluatedKey")
            if not start:
                return items

    def get(pk: str, sk: str) -> dict[str, Any] | None:
        nonlocal get_units
        found = client.get_item(TableName=table, Key={"PK": {"S": pk}, "SK": {"S": sk}}).get("Item")
        calls["GetItem"] += 1
        get_units += read_units([item_size(found)] if found else [1], consistent=False)
        return found

    def prefix(pk: str, begins: str) -> list[dict[str, Any]]:
        return query(KeyConditionExpression="PK = :p AND begins_with(SK, :s)",
                     ExpressionAttributeValues={":p": {"S": pk}, ":s": {"S": begins}})  # fmt: skip

    started = time.perf_counter()
    users = sorted({i["uid"]["S"] for i in query(
        IndexName="GSI1", KeyConditionExpression="GSI1PK = :p",
        ExpressionAttributeValues={":p": {"S": "ACCOUNTS"}})})  # fmt: skip
    due = 0
    for uid in users:
        for account in prefix(f"USER#{uid}", "ACCOUNT#"):
            get(f"USER#{uid}", f"SESSION#{account['account_id']['S']}")
        for basket in prefix(f"USER#{uid}", "BASKET#"):
            refs = query(IndexName="GSI1", KeyConditionExpression="GSI1PK = :p",
                         ExpressionAttributeValues={":p": {"S": f"BASKET#{uid}#{basket['basket_id']['S']}"}},
                         ProjectionExpression="PK, SK")  # fmt: skip
            for ref in refs:
                strategy = get(ref["PK"]["S"], ref["SK"]["S"])
                entry = (strategy or {}).get("spec", {}).get("S", "")
                if f'"{minute}:00"' in entry and weekday in entry:
                    due += 1
    return {
        "due_found": due,
        "requests": sum(calls.values()),
        "by_operation": dict(calls),
        "read_units": query_units + get_units,
        "wall_s": round(time.perf_counter() - started, 3),
    }


# -- one size ---------------------------------------------------------------------------------------
def original_requests(users: int, strategies: int) -> int:
    """1 users Query + per user: accounts Query, 2 session GetItems, baskets Query, 1 basket's
    strategies Query; + 1 GetItem per strategy (pages of the users Query come on top)."""
    return 1 + 5 * users + strategies


def original_pages(measured: dict[str, Any]) -> int:
    return 0  # every Query fits one page at the measured sizes


def aws_model(plan: dict[str, Any], size: int, workers: int, parts: int) -> dict[str, Any]:
    """The plan on AWS: this machine's CPU per strategy (the planner plus botocore, which runs
    there too) against the requests at AWS_LATENCY_S each, ``workers`` users at a time; the
    larger of the two is a part's wall time (threads overlap waiting with the other's CPU). The
    ``parts`` plan Lambdas run concurrently, each with a share of the users (even: uids are
    random), so the plan takes the slowest part plus the gather (one more warm invocation)."""
    per = plan["per_strategy"]
    share = size / parts * PART_SKEW if parts > 1 else size
    cpu = per["cpu_ms"] / 1000 * share
    io = per["requests"] * share * AWS_LATENCY_S / workers
    wall = max(cpu, io) + (GATHER_S if parts > 1 else 0)
    return {"latency_per_request_s": AWS_LATENCY_S, "parts": parts,
            "strategies_per_part": round(share), "cpu_s": round(cpu, 1), "io_s": round(io, 1),
            "wall_s": round(wall, 1), "fits_lead_s": PLAN_BUDGET_S,
            "fits": wall < PLAN_BUDGET_S}  # fmt: skip


def measure(size: int, url: str, run_plan: bool, run_original: bool,
            workers: int = 16, parts: int = 1) -> dict[str, Any]:  # fmt: skip
    table = f"bench-rpt-{size}"
    # moto answers a GSI Query by scanning the table: seconds at 10,000 strategies on a busy
    # machine, so the bench waits longer than the production 1.5 s (an AWS-latency setting).
    bind_table(table, REGION, url, read_timeout=EMULATOR_READ_TIMEOUT_S)
    BaseItem.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
    repo = Repository(SHARDS)
    minute = "10:00"
    slot = DAY.replace(hour=10, minute=0)
    started = time.perf_counter()
    data = populate(repo, size, minute)
    populate_s = time.perf_counter() - started

    # discovery, as the planner does it
    with count_all_requests() as requests:
        started = time.perf_counter()
        due = repo.due("WED", "1000")
        pairs = {(d.uid, a) for d in due for a in d.payload["accounts"]}
        found = repo.accounts_and_sessions(pairs)
        discovery_s = time.perf_counter() - started
    assert len(due) == size and len(found) == len(pairs), (len(due), size, len(found))
    gsi2_bytes = [item_size({k: v for k, v in d.serialize().items()
                             if k in ("PK", "SK", "GSI2PK", "GSI2SK", "type", "uid", "strategy_id",
                                      "account_id", "phase", "fire_time", "payload",
                                      "strategy_version")}) for d in due]  # fmt: skip
    batch_sizes = [size_of(x) for pair in found.values() for x in pair if x is not None]
    per_shard = max(1, len(due) // SHARDS)
    discovery = {
        "requests": sum(requests.values()),
        "by_operation": dict(requests),
        "read_units": read_units(gsi2_bytes, consistent=False)
        + math.ceil(len(gsi2_bytes) / per_shard) * 0  # per-request rounding is negligible here
        + sum(math.ceil(s / 4096) for s in batch_sizes),
        "wall_s": round(discovery_s, 3),
        "schedule_item_bytes": round(sum(gsi2_bytes) / len(gsi2_bytes)),
    }
    if run_original:
        original = original_pattern(table, url, "WED", minute)
        assert original["due_found"] == size, original
        assert original["requests"] == original_requests(data["users"], size) + original_pages(
            original
        ), original
    else:
        # moto answers GSI queries by scanning, so the original pattern takes ~75 s at 1,000;
        # past --original-max its count comes from the formula checked at the smaller sizes.
        original = {"requests": original_requests(data["users"], size), "computed": True,
                    "by_operation": {"Query": 1 + 3 * data["users"], "GetItem": 2 * data["users"] + size}}  # fmt: skip

    row: dict[str, Any] = {
        "due_strategies": size,
        "users": data["users"],
        "accounts": data["accounts"],
        "populate_s": round(populate_s, 1),
        "discovery": discovery,
        "original": original,
        "ratio_original_over_discovery": round(original["requests"] / discovery["requests"], 1),
    }
    if run_plan:
        planner = Planner(DynamoPlanStore(repo, ExecutionRepository(repo)),
                          OrderBuilder(MarketModel(), SyntheticQuotes()), owner="bench",
                          workers=workers)  # fmt: skip
        part_rows: list[dict[str, Any]] = []
        planned_parts: list[TickPlan] = []
        with count_all_requests() as requests:
            # Each part as its plan Lambda runs it, one after another here so that each part's
            # CPU is its own (on AWS they run at the same time, one Lambda each).
            for part in all_parts(parts):
                before = sum(requests.values())
                started, cpu0 = time.perf_counter(), time.process_time()
                planned_parts.append(planner.plan(slot, part))
                part_rows.append({
                    "part": part.index, "due": planned_parts[-1].stats["due"],
                    "requests": sum(requests.values()) - before,
                    "wall_s": round(time.perf_counter() - started, 3),
                    "cpu_s": round(time.process_time() - cpu0, 3),
                })  # fmt: skip
        plan = TickPlan.merged(slot, planned_parts)
        plan_s = sum(r["wall_s"] for r in part_rows)
        plan_cpu = sum(r["cpu_s"] for r in part_rows)
        orders = plan.orders
        assert plan.stats["due"] == size and len(plan.executions) == size, plan.stats
        order_sizes = [size_of(o) for o in orders[:200]]
        execution = ExecutionItem.get(
            plan.executions[0].orders[0].pk, plan.executions[0].execution_sk
        )
        exec_size = size_of(execution)
        order_kb = math.ceil(sum(order_sizes) / len(order_sizes) / 1024)
        row["plan"] = {
            "requests": sum(requests.values()),
            "by_operation": dict(requests),
            "orders": len(orders),
            "wall_s": round(plan_s, 3),
            "workers": workers,
            "parts": part_rows,
            "cpu_s": round(plan_cpu, 3),
            "per_strategy": {
                "requests": round(sum(requests.values()) / size, 2),
                "wall_ms_emulator": round(plan_s * 1000 / size, 2),
                "cpu_ms": round(plan_cpu * 1000 / size, 2),
            },
            "order_item_bytes": round(sum(order_sizes) / len(order_sizes)),
            "execution_item_bytes": exec_size,
            # gate put + status update per strategy (no GSI); each order put also writes GSI1
            "write_units": size * 2 * math.ceil(exec_size / 1024) + len(orders) * 2 * order_kb,
        }
        sample: OrderItem = orders[0]
        row["plan"]["order_request_fields"] = sorted(sample.request)
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10,100,1000,10000")
    parser.add_argument("--plan-sizes", default="10,100,1000")
    parser.add_argument("--original-max", type=int, default=1000)
    parser.add_argument("--plan-workers", type=int, default=16,
                        help="users planned at once")  # fmt: skip
    parser.add_argument("--parts", type=int, default=4,
                        help="plan parts (plan Lambdas of one tick); 1: the whole slot at once")  # fmt: skip
    parser.add_argument("--out", default="requests_per_tick.json")
    args = parser.parse_args()
    plan_sizes = {int(s) for s in args.plan_sizes.split(",") if s}
    rows = []
    with emulator_table("bench-rpt-boot") as url:
        for size in (int(s) for s in args.sizes.split(",")):
            row = measure(size, url, size in plan_sizes, size <= args.original_max,
                          args.plan_workers, args.parts)  # fmt: skip
            if "plan" in row:
                workers, parts = args.plan_workers, args.parts
                row["plan"]["aws_model"] = aws_model(row["plan"], size, workers, parts)
                slowest = max(row["plan"]["parts"], key=lambda r: r["cpu_s"])
                row["plan"]["aws_model_measured_parts"] = {
                    "slowest_part": slowest,
                    "wall_s": round(max(slowest["cpu_s"], slowest["requests"] * AWS_LATENCY_S
                                        / workers) + (GATHER_S if parts > 1 else 0), 1),
                }  # fmt: skip
                for n in (100, 1000, 10000):
                    row["plan"][f"aws_model_at_{n}"] = aws_model(row["plan"], n, workers, parts)
            rows.append(row)
            d, o = row["discovery"], row["original"]
            print(f"{size:>6} due strategies, {row['users']} users, {row['accounts']} accounts "
                  f"(populated in {row['populate_s']} s)")  # fmt: skip
            print(f"   planner discovery: {d['requests']:>6} requests {d['by_operation']}, "
                  f"{d['read_units']} RRU, {d['wall_s']} s")  # fmt: skip
            how = ("computed from the formula" if o.get("computed")
                   else f"{o['read_units']} RRU, {o['wall_s']} s")  # fmt: skip
            print(f"   original pattern:  {o['requests']:>6} requests {o['by_operation']}, "
                  f"{how}  -> ratio {row['ratio_original_over_discovery']}x")  # fmt: skip
            if "plan" in row:
                p = row["plan"]
                print(f"   full Planner.plan: {p['requests']:>6} requests {p['by_operation']}, "
                      f"{p['orders']} orders, ~{p['write_units']} WRU, {p['wall_s']} s (emulator)")  # fmt: skip
                print(f"   per due strategy {p['per_strategy']}; workers {p['workers']}")
                for part in p["parts"]:
                    print(f"   part {part}")
                print(f"   AWS, parts as measured: {p['aws_model_measured_parts']}")
                for n in (100, 1000, 10000):
                    print(f"   AWS model at {n}: {p[f'aws_model_at_{n}']}")
    path = write_result(args.out, {"shards": SHARDS, "parts": args.parts, "rows": rows})
    print(f"written to {path}")


if __name__ == "__main__":
    main()
