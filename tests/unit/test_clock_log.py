"""The clock's log: one line per tick in IST, the next slot with work, problems by strategy/account."""

import logging
from datetime import datetime, timedelta
from types import SimpleNamespace

from chalicelib.domain.calendar import IST
from localdev.clock import (
    Clock,
    PlatformTimeFormatter,
    lateness,
    next_work,
    order_problems,
    plan_problems,
    tick_line,
)

SLOT = datetime(2026, 12, 1, 9, 20, tzinfo=IST)  # a Tuesday


def at(day: int, h: int, m: int) -> datetime:
    return datetime(2026, 12, day, h, m, tzinfo=IST)


def test_a_tick_line_says_slot_due_sent_lateness_and_next_work():
    figures = {"due": 2, "orders": 4, "sent": 4, "failed": 0, "late_first_ms": 1.24,
               "late_last_ms": 6.0}  # fmt: skip
    line = tick_line(SLOT, figures, at(1, 9, 22))
    assert (
        line
        == "slot Tue 01 Dec 09:20 IST | due 2 | sent 4/4 | late +1.2..+6.0 ms | next work 09:22 IST"
    )
    idle = tick_line(SLOT, {"due": 0, "orders": 0}, at(2, 9, 20))
    assert idle == "slot Tue 01 Dec 09:20 IST | due 0 | sent 0/0 | next work Wed 02 Dec 09:20 IST"
    closed = tick_line(at(1, 3, 0), {"skipped": "outside the F&O session"}, None)
    assert "skipped (outside the F&O session)" in closed and closed.endswith("none scheduled")
    assert "FAILED ConnectionError: x" in tick_line(SLOT, {"error": "ConnectionError: x"}, None)


def test_next_work_skips_weekends_holidays_and_past_minutes():
    slots = {("TUE", "0920"), ("TUE", "0922"), ("MON", "0930")}
    assert next_work(SLOT, slots) == at(1, 9, 22)
    assert next_work(at(1, 9, 22), slots) == at(7, 9, 30)  # Monday, past the weekend
    # Tuesday 2026-11-24 is a holiday (Prakash Gurpurb): a TUE slot moves a week on
    monday = datetime(2026, 11, 23, 16, 0, tzinfo=IST)
    assert next_work(monday, {("TUE", "0920")}) == SLOT
    assert next_work(SLOT, set()) is None


def test_lateness_and_problems_name_the_strategy_and_account():
    sent = [
        SimpleNamespace(sent_at=(SLOT + timedelta(milliseconds=ms)).isoformat()) for ms in (7, 2)
    ]
    assert lateness(SLOT, sent) == {"late_first_ms": 2.0, "late_last_ms": 7.0}
    assert lateness(SLOT, [SimpleNamespace(sent_at=None)]) == {}
    plan = SimpleNamespace(executions=[SimpleNamespace(
        phase="ENTRY", strategy_id="s1",
        errors=[{"account_id": "a1", "code": "account_unusable", "message": "no broker session"}],
    )])  # fmt: skip
    assert plan_problems(plan) == [
        "ENTRY strategy s1 account a1: account_unusable: no broker session"
    ]
    failed = SimpleNamespace(phase="ENTRY", strategy_id="s1", account_id="a2", order_id="o1",
                             status="FAILED", error={"message": "margin"})  # fmt: skip
    assert order_problems([failed]) == ["ENTRY strategy s1 account a2: order o1 FAILED: margin"]


def test_every_tick_logs_one_line_even_when_idle(caplog):
    class Idle:
        clock = staticmethod(lambda: SLOT)
        planner = SimpleNamespace(
            plan=lambda slot, part=None: SimpleNamespace(
                stats={"due": 0}, skipped=None, orders=[], executions=[]
            )
        )

    clock = Clock(Idle(), slots=lambda: {("TUE", "0925")})  # type: ignore[arg-type]
    with caplog.at_level(logging.INFO, logger="clock"):
        clock.tick(SLOT)
    assert [r.getMessage() for r in caplog.records] == [
        "slot Tue 01 Dec 09:20 IST | due 0 | sent 0/0 | next work 09:25 IST"
    ]


def test_a_tick_that_sent_logs_its_lateness_for_the_metric_filter(caplog):
    clock = Clock(SimpleNamespace(), slots=lambda: set())  # type: ignore[arg-type]
    figures = {"due": 1, "orders": 4, "sent": 4, "late_first_ms": 1234.56, "late_last_ms": 1300}
    with caplog.at_level(logging.INFO, logger="clock"):
        clock._report(SLOT, figures, [])
    last = caplog.records[-1].getMessage()
    assert last == "tick_late_ms 1234.6"  # infra/engine.tf: [..., label = "tick_late_ms", ms]
    assert last.split()[-2:] == ["tick_late_ms", "1234.6"]


def test_log_lines_carry_the_platform_time():
    wall = datetime(2026, 11, 29, 3, 0, tzinfo=IST)
    formatter = PlatformTimeFormatter(lambda: SLOT, wall=lambda: wall)
    record = logging.LogRecord("clock", logging.INFO, "", 0, "x", None, None)
    record.created = wall.timestamp() + 5
    assert formatter.formatTime(record) == "2026-12-01 09:20:05 IST"
