"""DynamoDB requests and read time to find everything due at one minute, by number of strategies.

Starts the embedded emulator on a free loopback port, creates the table from the models, writes N
schedule entries due at the same minute for N strategies over N/3 users (2 accounts, 4 legs each),
then reads the slot exactly as the planner does. Prints the figures and writes
bench/results/schedule_index.json. The emulator's latency is not DynamoDB's: the request count is
the figure that carries over to AWS; the times say how the read scales.

Run: .venv/bin/python bench/bench_schedule_index.py [--sizes 10,100,1000,10000]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chalicelib.adapters.dynamo.metrics import count_requests
from chalicelib.adapters.dynamo.models import BaseItem, ScheduleItem, StrategyItem, bind_table
from chalicelib.adapters.dynamo.repository import Repository
from chalicelib.api.strategy_schemas import StrategyIn
from chalicelib.domain.schedule import schedule_entries
from chalicelib.domain.strategy_documents import to_document
from localdev import emulator
from tests.factories import four_leg_strategy

RESULTS = Path(__file__).resolve().parent / "results" / "schedule_index.json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def populate(repo: Repository, size: int, minute: str) -> None:
    body = four_leg_strategy("B", "A1", "A2")
    body["entry"] = {"time": minute, "days": ["WED"]}
    strategy = StrategyIn.model_validate(body).to_domain()
    users = max(1, size // 3)
    with ScheduleItem.batch_write() as batch:
        for n in range(size):
            uid = f"user-{n % users}"
            sid = uuid.uuid4().hex[:16]
            item = StrategyItem(*StrategyItem.key(uid, sid), uid=uid, strategy_id=sid,
                                basket_id="B", spec=to_document(strategy))  # fmt: skip
            for entry in schedule_entries(sid, strategy):
                if entry.phase == "ENTRY":
                    batch.save(repo.schedule_item(item, entry))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10,100,1000,10000")
    parser.add_argument("--shards", type=int, default=4)
    args = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    port = free_port()
    url = emulator.start(port)
    try:
        bind_table("bench-schedule", "ap-south-1", url)
        BaseItem.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
        repo = Repository(args.shards)
        rows = []
        for i, size in enumerate(int(s) for s in args.sizes.split(",")):
            minute = f"10:{i:02d}:00"
            populate(repo, size, minute)
            times = []
            for _ in range(3):
                with count_requests() as requests:
                    started = time.perf_counter()
                    due = repo.due("WED", minute[:2] + minute[3:5])
                    times.append(time.perf_counter() - started)
                assert len(due) == size, (len(due), size)
            row = {
                "strategies": size,
                "dynamodb_requests": sum(requests.values()),
                "by_operation": dict(requests),
                "read_ms_median": round(statistics.median(times) * 1000, 1),
            }
            rows.append(row)
            print(f"{size:>6} due strategies: {row['dynamodb_requests']} requests "
                  f"{row['by_operation']}, slot read {row['read_ms_median']} ms (emulator)")  # fmt: skip
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(json.dumps({"shards": args.shards, "rows": rows}, indent=2) + "\n")
        print(
            f"written to {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}"
        )
    finally:
        emulator.stop(port)


if __name__ == "__main__":
    main()
