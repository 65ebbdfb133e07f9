"""A real monitor process, SIGKILLed right after its close reached the broker (the answer held
back, so nothing was recorded after the send): the restarted monitor finds the close by its tag
and sends nothing again (issue #17: "a crash right after a close was sent (also with a real
SIGKILL): the restart sent another")."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from localdev.terraform import settings_env
from tests.conftest import REGION
from tests.integration.risk.harness import SHORT_SL30, Scenario, Sim

TARGET = {**SHORT_SL30, "target": {"type": "POINTS", "value": "20"}}
ROOT = Path(__file__).resolve().parents[3]


def closes(s: Scenario) -> list[dict[str, str]]:
    return [p for p in s.placed() if p["order_type"] == "LIMIT"]


def test_a_sigkilled_monitor_right_after_a_close_was_sent(
    sim: Sim, infra: dict[str, Any], emulator_url: str
):
    s = Scenario(sim, [TARGET], {})
    s.enter()
    env = settings_env(infra, "test", emulator_url, REGION)
    env.update(AWS_READ_TIMEOUT="30",
               BROKER_HOSTS=json.dumps(dict(sim.container.settings.broker_hosts)))  # fmt: skip
    s.price(0, "79.00")  # the target is hit: the monitor process will close
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.risk.monitor_process"],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert child.stdin is not None
        child.stdin.write(json.dumps({"env": env, "start": s.now.isoformat(), "hold": 30}))
        child.stdin.close()
        deadline = time.monotonic() + 90
        while not closes(s) and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.005)
        os.kill(child.pid, signal.SIGKILL)  # the close is at the broker; its answer is not
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL
    assert len(closes(s)) == 1 and s.broker_position(0) == 0
    [close] = s.orders("RISKX")
    assert close.status == "SENT" and not close.broker_order_id  # sent, never recorded
    sim.clock.advance(30)  # past the dead process's clock and its lease
    s.engine = s.fresh_engine()  # the restarted monitor
    s.steps(3)
    [close] = s.orders("RISKX")
    assert close.status == "COMPLETE" and close.broker_order_id  # found by its tag
    assert len(closes(s)) == 1  # nothing sent again
    assert s.position(0) == 0 and [g["state"] for g in s.guards()] == ["DONE"]
    s.check()
