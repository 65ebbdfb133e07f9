"""A real monitor process, SIGKILLed in the middle of each close path: right after a target close
reached the broker, during an MTM close (stops cancelled, the closes claimed but not yet sent, or
just sent), right after a stop was placed and right after a re-entry was sent. The broker's answer
(or the send itself) is held back, so nothing was recorded after the kill. The restarted monitor
resolves every intent by its tag: each tag reaches the broker at most once, at most one stop rests
per guarded position, the platform's positions equal the broker's, and an MTM close goes on until
flat (issue #17: "a crash right after a close was sent (also with a real SIGKILL): the restart sent
another"; "a crash during an MTM close: never resumed"; "a crash right after a stop was placed:
two stops resting")."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chalicelib.services.closing import canonical_symbol
from localdev.terraform import settings_env
from tests.conftest import REGION
from tests.integration.risk.harness import SHORT_SL30, Scenario, Sim

TARGET = {**SHORT_SL30, "target": {"type": "POINTS", "value": "20"}}
MTM = {"mtm_stop_loss": "1000"}  # one NIFTY lot (65) short: exits at a loss of 16 points
RE_ASAP = {"side": "SELL", "stop_loss": {"type": "POINTS", "value": "10"},
           "re_entry": {"mode": "RE_ASAP", "max_count": 1}}  # fmt: skip
ROOT = Path(__file__).resolve().parents[3]
HOLD = 60  # seconds the held call waits: far longer than any test waits for the kill


@pytest.fixture
def kill(sim: Sim, infra: dict[str, Any], emulator_url: str) -> Callable[..., None]:
    """``kill(s, traps, until)``: a monitor process with ``traps`` (``monitor_process``) runs
    until ``until()`` holds, then is SIGKILLed; the restarted monitor takes over from the
    table and the broker alone (the parent's clock moves past the dead one's lease)."""
    env = settings_env(infra, "test", emulator_url, REGION)
    env.update(AWS_READ_TIMEOUT="30",
               BROKER_HOSTS=json.dumps(dict(sim.container.settings.broker_hosts)))  # fmt: skip

    def run(s: Scenario, traps: list[list[Any]], until: Callable[[], bool]) -> None:
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.risk.monitor_process"],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert child.stdin is not None
            child.stdin.write(json.dumps({"env": env, "start": s.now.isoformat(), "traps": traps}))
            child.stdin.close()
            deadline = time.monotonic() + 90
            while not until() and time.monotonic() < deadline and child.poll() is None:
                time.sleep(0.005)
            assert until(), "the monitor process never got there"
            os.kill(child.pid, signal.SIGKILL)
        finally:
            if child.poll() is None:
                child.kill()
            child.wait(timeout=10)
        assert child.returncode == -signal.SIGKILL
        sim.clock.advance(30)  # past the dead process's clock and its lease
        s.engine = s.fresh_engine()  # the restarted monitor

    return run


def placed(s: Scenario, order_type: str, side: str = "BUY") -> list[dict[str, str]]:
    return [
        p for p in s.placed() if p["order_type"] == order_type and p["transaction_type"] == side
    ]


def test_a_sigkilled_monitor_right_after_a_close_was_sent(sim: Sim, kill: Callable[..., None]):
    s = Scenario(sim, [TARGET], {})
    s.enter()
    s.price(0, "79.00")  # the target is hit: the monitor process will close
    kill(s, [["place", "close", "slow", HOLD]], lambda: bool(placed(s, "LIMIT")))
    assert s.broker_position(0) == 0
    [close] = s.orders("RISKX")
    assert close.status == "SENT" and not close.broker_order_id  # sent, never recorded
    s.steps(3)
    [close] = s.orders("RISKX")
    assert close.status == "COMPLETE" and close.broker_order_id  # found by its tag
    assert len(placed(s, "LIMIT")) == 1  # nothing sent again
    assert s.position(0) == 0 and [g["state"] for g in s.guards()] == ["DONE"]
    s.check()


def test_a_sigkilled_monitor_during_an_mtm_close_before_the_closes_left(
    sim: Sim, kill: Callable[..., None]
):
    s = Scenario(sim, [SHORT_SL30, SHORT_SL30], MTM)
    s.enter()
    s.price(0, "125.00")  # the MTM stop is hit: stops cancelled, then the closes go out
    kill(s, [["place", "close", "stall", HOLD]],
         lambda: any(o.status == "SENT" for o in s.orders("RISKX")))  # fmt: skip
    # the first leg's stop cancelled and its close claimed, nothing closed yet
    [claimed] = s.orders("RISKX")
    assert claimed.status == "SENT" and not claimed.broker_order_id
    other = s.contracts[1 - int(claimed.request["leg"])]
    assert list(s.resting_stops()) == [canonical_symbol(other.key)]  # the other leg's, next
    assert not placed(s, "LIMIT")
    assert s.broker_position(0) == s.broker_position(1) == -s.contracts[0].lot_size
    s.steps(3)  # the claimed close is looked up by tag (the broker's lag has passed)
    s.steps(3, seconds=5)  # the MTM close resumes until flat
    assert s.broker_positions() == {} and s.book().status == "DONE"
    assert len(placed(s, "LIMIT")) == 2  # one close per leg
    s.check()


def test_a_sigkilled_monitor_right_after_an_mtm_close_was_sent(sim: Sim, kill: Callable[..., None]):
    s = Scenario(sim, [SHORT_SL30, SHORT_SL30], MTM)
    s.enter()
    s.price(0, "125.00")
    kill(s, [["place", "close", "slow", HOLD]], lambda: bool(placed(s, "LIMIT")))
    assert len(placed(s, "LIMIT")) == 1  # the first close is at the broker, unrecorded
    s.steps(3)
    s.steps(3, seconds=5)
    assert s.broker_positions() == {} and s.book().status == "DONE"
    assert len(placed(s, "LIMIT")) == 2  # the sent one found by its tag, the other sent once
    s.check()


def test_a_sigkilled_monitor_right_after_a_stop_was_placed(sim: Sim, kill: Callable[..., None]):
    s = Scenario(sim, [SHORT_SL30], {})
    s.enter()
    [stop] = s.orders("STOP")
    sim.exchange.cancel(s.client_id, stop.broker_order_id)  # the broker's RMS drops the stop
    kill(s, [["place", "stop", "slow", HOLD]], lambda: len(placed(s, "SL")) == 2)
    assert sum(s.resting_stops().values()) == 1  # the new stop rests, unrecorded
    s.steps(3)
    assert len(placed(s, "SL")) == 2  # the re-placed stop found by its tag, not placed again
    assert sum(s.resting_stops().values()) == 1
    assert [g["state"] for g in s.guards()] == ["ARMED"]
    s.price(0, "131.00")  # and it protects: the stop fills, once
    s.steps(2)
    assert s.broker_positions() == {} and [g["state"] for g in s.guards()] == ["DONE"]
    s.check()


def test_a_sigkilled_monitor_right_after_a_re_entry_was_sent(sim: Sim, kill: Callable[..., None]):
    s = Scenario(sim, [RE_ASAP], {})
    s.enter()
    lot = s.contracts[0].lot_size
    s.price(0, "111.00")  # the stop fills; the re-entry goes out at once
    kill(s, [["place", "reentry", "slow", HOLD]], lambda: bool(placed(s, "LIMIT", "SELL")))
    assert s.broker_position(0) == -lot
    s.steps(3)
    assert len(placed(s, "LIMIT", "SELL")) == 1  # found by its tag, not sent again
    assert s.position(0) == -lot
    assert [g["state"] for g in s.guards()] == ["DONE", "ARMED"]
    assert sum(s.resting_stops().values()) == 1  # the new cycle is guarded, once
    s.check()
