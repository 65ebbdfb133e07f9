"""Shared set-up of the engine benchmarks: the emulator, the table, a KMS key, fake brokers in a
child process, a shifted clock, a DynamoDB request counter over every model's client, and the
daily login of an account through the real service and the fake's redirect.

Everything started here is stopped by the context managers, even when a benchmark fails.
"""

from __future__ import annotations

import functools
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import boto3
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chalicelib.adapters.dynamo.metrics import count_requests  # noqa: E402
from chalicelib.adapters.dynamo.models import (  # noqa: E402
    BaseItem,
    SessionItem,
    bind_table,
)
from chalicelib.domain.brokers import BY_NAME  # noqa: E402
from chalicelib.settings import Settings  # noqa: E402
from localdev import emulator  # noqa: E402

REGION = "ap-south-1"
RESULTS = ROOT / "bench" / "results"
# broker name -> fake dialect, from the catalogue, for the brokers the benches trade through
DIALECT = {name: BY_NAME[name].dialect for name in ("zerodha", "upstox", "fyers", "shoonya")}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def emulator_table(table: str) -> Iterator[str]:
    """The emulator on a free loopback port with the table created from the models."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    os.environ.pop("AWS_ENDPOINT_URL", None)  # always our own, never a shared one
    port = free_port()
    url = emulator.start(port)
    try:
        bind_table(table, REGION, url)
        BaseItem.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
        yield url
    finally:
        emulator.stop(port)


def kms_key(url: str) -> str:
    kms = boto3.client("kms", region_name=REGION, endpoint_url=url)
    return str(kms.create_key(Description="bench secrets")["KeyMetadata"]["KeyId"])


class FakeBrokers:
    """Fake broker servers in a child process (see fake_brokers_process.py)."""

    def __init__(self, dialects: list[str]) -> None:
        script = ROOT / "bench" / "fake_brokers_process.py"
        self.process = subprocess.Popen(
            [sys.executable, str(script), ",".join(dialects)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.stop()
            raise RuntimeError("fake brokers exited before printing their URLs")
        self.info: dict[str, dict[str, Any]] = json.loads(line)
        self.http = httpx.Client(timeout=10)

    def hosts(self) -> dict[str, dict[str, str]]:
        return {broker: self.info[d]["hosts"] for broker, d in DIALECT.items() if d in self.info}

    def register_app(
        self, broker: str, api_key: str, secret: str, client: str, redirect: str
    ) -> None:
        root = self.info[DIALECT[broker]]["root"]
        body = {"api_key": api_key, "api_secret": secret, "client_id": client,
                "redirect_url": redirect}  # fmt: skip
        self.http.post(f"{root}/_sim/apps", json=body).raise_for_status()

    def received(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for info in self.info.values():
            rows.extend(self.http.get(f"{info['root']}/_sim/received").json())
        return rows

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if hasattr(self, "http"):
            self.http.close()


@contextmanager
def fake_brokers(dialects: list[str]) -> Iterator[FakeBrokers]:
    fakes = FakeBrokers(dialects)
    try:
        yield fakes
    finally:
        fakes.stop()


class ShiftedClock:
    """Wall clock that reads `start` at monotonic `origin` and advances in real time."""

    def __init__(self, start: datetime) -> None:
        self.set(start)

    def set(self, start: datetime) -> None:
        self.start, self.origin = start, time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.origin)

    def at_monotonic_ns(self, ns: int) -> datetime:
        """The shifted wall time of a CLOCK_MONOTONIC reading (a fake broker's receive time)."""
        return self.start + timedelta(seconds=ns / 1e9 - self.origin)


def settings(
    url: str, key_id: str, hosts: dict[str, dict[str, str]], table: str, stage: str = "local"
) -> Settings:
    """`local`: the in-process order-rate limiter (make run); an AWS stage name (e.g. `prod`):
    the DynamoDB-backed limiter that fire Lambdas share, one conditional write per order."""
    return Settings(
        stage=stage,
        region=REGION,
        table_name=table,
        user_pool_id="",
        user_pool_client_id="",
        secrets_kms_key_id=key_id,
        aws_endpoint_url=url,
        broker_hosts=hosts,
        # An AWS stage refuses a loopback callback URL; the fakes' redirect is read, never followed.
        **(
            {"public_api_url": "https://api.bench.invalid"}
            if stage not in ("local", "test")
            else {}
        ),
    )


# Every model's client and the transaction connection, every thread: the platform's own counter.
count_all_requests = functools.partial(count_requests, every_thread=True)


def log_in(container: Any, fakes: FakeBrokers, uid: str, broker: str, client_id: str,
           valid_until: datetime) -> str:  # fmt: skip
    """Create an account through the service, log it in through the fake's redirect, and make
    its session cover `valid_until` (as the engine test does). Returns the account id."""
    key, secret = f"key-{client_id}", f"secret-{client_id}"
    if broker == "fyers":
        key = f"{client_id}-100"  # Fyers app ids look like XXXX-100
    fakes.register_app(
        broker, key, secret, client_id, container.broker_sessions.callback_url(broker)
    )
    account = container.accounts.create(
        uid, broker=broker, client_id=client_id, label=broker,
        secrets={"api_key": key, "api_secret": secret}, static_ip_note=None,
    )  # fmt: skip
    url = container.broker_sessions.login_url(uid, account.account_id)
    redirect = fakes.http.get(url, follow_redirects=False)
    assert redirect.status_code in (302, 303, 307), redirect.text
    params = dict(parse_qsl(urlsplit(redirect.headers["location"]).query))
    container.broker_sessions.complete_callback(broker, params)
    session = SessionItem.get(*SessionItem.key(uid, account.account_id))
    session.update(actions=[SessionItem.expires_at.set(valid_until.isoformat())])
    return str(account.account_id)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def summary_ms(values_s: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values_s]
    return {
        "n": len(ms),
        "min": round(min(ms), 2),
        "p50": round(percentile(ms, 50), 2),
        "p99": round(percentile(ms, 99), 2),
        "max": round(max(ms), 2),
    }


def write_result(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / name
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path
