"""The price monitor's loop: cycles only in the session of a trading day, survives a failing
cycle, stops when asked; arming failures never break the settle step."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from chalicelib.domain.calendar import IST
from chalicelib.jobs import risk

TRADING = datetime(2026, 11, 25, 10, 0, tzinfo=IST)  # a Wednesday
HOLIDAY = datetime(2026, 11, 24, 10, 0, tzinfo=IST)  # Guru Nanak Jayanti


class FakeRisk:
    def __init__(self, fail_first: bool = False) -> None:
        self.calls = 0
        self.fail_first = fail_first
        self.events: list[dict[str, Any]] = []

    def record_event(self, uid: str, sk: str, event: dict[str, Any]) -> None:
        self.events.append(event)

    def cycle(self) -> dict[str, int]:
        self.calls += 1
        if self.fail_first and self.calls == 1:
            raise RuntimeError("broker hiccup")
        return {"books": 1, "failed": 0}

    def arm(self, uid: str, sk: str) -> Any:
        self.calls += 1
        raise RuntimeError("storage down")


class FakeLimits:
    def __init__(self) -> None:
        self.calls = 0

    def check(self) -> dict[str, int]:
        self.calls += 1
        return {"failed": 0}


def container(now: datetime, engine: FakeRisk, limits: FakeLimits | None = None) -> Any:
    return SimpleNamespace(clock=lambda: now, risk=engine, day_limits=limits or FakeLimits())


def test_in_session_only_on_trading_days_and_hours():
    assert risk.in_session(TRADING)
    assert not risk.in_session(HOLIDAY)
    assert not risk.in_session(TRADING.replace(hour=9, minute=14))
    assert not risk.in_session(TRADING.replace(hour=15, minute=40))


def test_monitor_runs_cycles_and_survives_a_failure():
    engine, limits = FakeRisk(fail_first=True), FakeLimits()
    figures = risk.monitor(
        container(TRADING, engine, limits), run_for=timedelta(seconds=0.2), interval=0.02
    )
    assert engine.calls >= 3 and figures["failed"] == 1
    assert figures["cycles"] == engine.calls - 1
    assert limits.calls >= 1  # the accounts' day limits are judged from the same loop


def test_monitor_idles_outside_the_session_and_stops_when_asked():
    engine = FakeRisk()
    stop = threading.Event()
    timer = threading.Timer(0.1, stop.set)
    timer.start()
    figures = risk.monitor(container(HOLIDAY, engine), interval=0.02, stop=stop)
    assert engine.calls == 0 and figures == {"cycles": 0, "failed": 0}
    assert risk.lambda_run(container(HOLIDAY, engine))["cycles"] == 0


def test_arming_failure_is_retried_then_reported_loudly_not_raised():
    engine = FakeRisk()
    c = SimpleNamespace(clock=lambda: TRADING, risk=engine)
    outcome = risk.arm(c, "u", "sk", pause=0)
    assert "NOT placed" in outcome["error"]
    assert [(e["code"], e["urgent"]) for e in engine.events] == [("risk_not_armed", True)]


def test_the_lambda_never_starts_a_cycle_too_close_to_its_timeout():
    """A cold cycle can take a minute (an instrument master to download): the last one starts
    with at least CYCLE_RESERVE of the Lambda's time left, never at 284.9 s of 300 s."""
    engine = FakeRisk()
    reserve = risk.CYCLE_RESERVE.total_seconds()
    left = iter([300.0, reserve + 1, reserve - 0.1, 200.0])
    figures = risk.lambda_run(container(TRADING, engine), remaining=lambda: next(left))
    assert engine.calls == 2 and figures == {"cycles": 2, "failed": 0}
