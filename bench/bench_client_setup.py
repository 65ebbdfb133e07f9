"""What a cold process spends building its DynamoDB clients before the first request: a Lambda
cold start, the clock process, a container bound afresh (every test's container did).

Each figure comes from a fresh Python process (imports done first, then timed):

  per_class  PynamoDB's own behaviour, what the platform did before: one connection per model
             class, each client built from a new botocore session of its own
  shared     the platform now (``adapters/aws/shared_session.py``): the same connections, their
             clients built from one session
  rebind     a second container binding the same table in the same process (it used to drop
             every connection, so its first requests rebuilt them all)

No request is sent (clients are built, not called), so no emulator is needed.

Run: .venv/bin/python bench/bench_client_setup.py [--rounds 3]
Writes bench/results/client_setup.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.rig import write_result  # noqa: E402

HOST = "http://127.0.0.1:9"  # never contacted

CHILD = """
import json, os, sys, time
os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
from pynamodb.connection import Connection
from chalicelib.adapters.dynamo.models import all_models, bind_table, transaction_connection
mode, host = sys.argv[1], sys.argv[2]
models = all_models()
wall, cpu = time.perf_counter(), time.process_time()
if mode == "per_class":
    for _ in [*models, "transactions"]:
        Connection(region="ap-south-1", host=host).client
else:
    bind_table("bench", "ap-south-1", host)
    for model in models:
        model._get_connection().connection.client
    transaction_connection().client
    if mode == "rebind":
        wall, cpu = time.perf_counter(), time.process_time()
        bind_table("bench", "ap-south-1", host)
        for model in models:
            model._get_connection().connection.client
        transaction_connection().client
print(json.dumps({"clients": len(models) + 1, "wall_ms": (time.perf_counter() - wall) * 1e3,
                  "cpu_ms": (time.process_time() - cpu) * 1e3}))
"""


def measure(mode: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode, HOST], cwd=ROOT, capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    figures: dict[str, Any] = {"rounds": args.rounds}
    for mode in ("per_class", "shared", "rebind"):
        runs = [measure(mode) for _ in range(args.rounds)]
        figures[mode] = {
            "clients": runs[0]["clients"],
            "wall_ms_median": round(statistics.median(r["wall_ms"] for r in runs), 1),
            "cpu_ms_median": round(statistics.median(r["cpu_ms"] for r in runs), 1),
        }
        row = figures[mode]
        print(f"{mode:10s} {row['clients']} clients: {row['wall_ms_median']:8.1f} ms wall, "
              f"{row['cpu_ms_median']:8.1f} ms CPU (median of {args.rounds})")  # fmt: skip
    path = write_result("client_setup.json", figures)
    print(f"written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
