"""The notification watch with an injected clock and in-memory facts: a scheduled tick with no
execution or no order taken N s after T raises one urgent "engine missing"; a broker session that
ends within the hour and before the close raises one "session about to expire"."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from chalicelib.domain.calendar import IST
from chalicelib.domain.notifications import EventKind, Urgency
from chalicelib.services.notifications.dispatcher import Dispatcher
from chalicelib.services.notifications.watch import Due, Session, Watch
from tests.unit.notifications.fakes import MemoryStore, ScriptedBot, Ticker

MONDAY = datetime(2026, 11, 30, 9, 20, tzinfo=IST)  # a trading day
CHRISTMAS = datetime(2026, 12, 25, 9, 20, tzinfo=IST)  # an exchange holiday (a Friday)


class Facts:
    def __init__(self) -> None:
        self.schedule: dict[tuple[str, str], list[Due]] = {}
        self.executions: dict[tuple[str, str, str, str], tuple[str, list[str]]] = {}
        self.held: list[Session] = []
        self.reads = 0

    def due(self, weekday: str, hhmm: str) -> list[Due]:
        return self.schedule.get((weekday, hhmm), [])

    def execution(self, uid, trade_date, strategy_id, phase):
        return self.executions.get((uid, trade_date, strategy_id, phase))

    def sessions(self):
        self.reads += 1
        return list(self.held)

    def strategy_name(self, uid: str, strategy_id: str) -> str:
        return f"Name of {strategy_id}"


class Now:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def rig():
    facts, now, published = Facts(), Now(MONDAY), []
    facts.schedule[("MON", "0920")] = [Due("u1", "S1", "ENTRY", "09:20:00")]
    watch = Watch(facts, published.append, now, "https://api.example")
    return facts, now, published, watch


def test_a_tick_never_planned_is_reported_after_the_grace(rig):
    _facts, now, published, watch = rig
    now.at = MONDAY + timedelta(seconds=29)
    assert watch.missing_ticks() == 0  # the firer has until T + 30 s
    now.at = MONDAY + timedelta(seconds=31)
    assert watch.missing_ticks() == 1
    [event] = published
    assert (event.kind, event.urgency, event.uid) == (
        EventKind.ENGINE_MISSING,
        Urgency.URGENT,
        "u1",
    )
    assert event.fields["strategy"] == "Name of S1"
    assert event.fields["scheduled"] == "2026-11-30 09:20:00 IST"
    assert event.fields["reason"].startswith("not planned")
    now.at = MONDAY + timedelta(minutes=2)
    watch.missing_ticks()
    assert published[1].key == event.key  # the same fact: the store lets one through


def test_planned_but_no_order_taken_is_missing_and_a_fired_tick_is_not(rig):
    facts, now, published, watch = rig
    now.at = MONDAY + timedelta(seconds=45)
    facts.executions[("u1", "2026-11-30", "S1", "ENTRY")] = ("PLANNED", ["BUILT", "BUILT"])
    assert watch.missing_ticks() == 1
    assert published[0].fields["reason"] == "planned but not sent: its 2 order(s) are still waiting"
    facts.executions[("u1", "2026-11-30", "S1", "ENTRY")] = ("PLANNED", ["SENT", "BUILT"])
    assert watch.missing_ticks() == 0  # fired: settlement reports how it went
    facts.executions[("u1", "2026-11-30", "S1", "ENTRY")] = ("SKIPPED", [])
    assert watch.missing_ticks() == 0  # the planner said why (a DTE day, a closed basket)


def test_old_slots_holidays_and_closed_hours_are_not_checked(rig):
    facts, now, published, watch = rig
    now.at = MONDAY + timedelta(minutes=5)  # past the look-back
    assert watch.missing_ticks() == 0
    facts.schedule[("FRI", "0920")] = [Due("u1", "S1", "ENTRY", "09:20:00")]
    now.at = CHRISTMAS + timedelta(seconds=40)
    assert watch.missing_ticks() == 0
    facts.schedule[("MON", "0900")] = [Due("u1", "S1", "ENTRY", "09:00:00")]
    now.at = MONDAY.replace(minute=0, second=40)
    assert watch.missing_ticks() == 0  # before the open: nothing fires then
    assert published == []


def test_one_engine_missing_notification_through_the_dispatcher(rig):
    facts, now, _published, _ = rig
    store, bot = MemoryStore(), ScriptedBot()
    store.link_chat("u1", "501")
    dispatcher = Dispatcher(store, bot, monotonic=Ticker())
    watch = Watch(facts, dispatcher.accept, now, "")
    now.at = MONDAY + timedelta(seconds=31)
    watch.missing_ticks()
    now.at = MONDAY + timedelta(seconds=91)
    watch.missing_ticks()
    dispatcher.flush()
    assert len(store.recent("u1")) == 1
    assert len(bot.sent) == 1 and bot.sent[0][1].startswith("URGENT: Engine missing")


def _session(expires: datetime) -> Session:
    return Session("u1", "A1", "Main (zerodha AB**34)", expires)


def test_a_session_ending_mid_session_is_urgent_once_per_session(rig):
    facts, now, published, watch = rig
    facts.held = [_session(MONDAY.replace(hour=11, minute=0))]
    now.at = MONDAY.replace(hour=9, minute=55)
    assert watch.expiring_sessions() == 0  # 65 minutes ahead: not yet
    now.at = MONDAY.replace(hour=10, minute=5)
    assert watch.expiring_sessions() == 1
    [event] = published
    assert (event.kind, event.urgency) == (EventKind.SESSION_EXPIRING, Urgency.URGENT)
    assert event.fields["expires"] == "11:00 IST"
    assert event.fields["login"] == "https://api.example/accounts/A1/login"
    assert "AB1234" not in str(event.fields)
    now.at = MONDAY.replace(hour=10, minute=10)
    watch.expiring_sessions()
    assert published[1].key == event.key  # the same session: one notification
    facts.held = [_session(MONDAY.replace(hour=12, minute=0))]  # logged in again: a new session
    now.at = MONDAY.replace(hour=11, minute=30)
    watch.expiring_sessions()
    assert published[2].key != event.key


def test_overnight_and_after_close_expiries_are_left_to_readiness(rig):
    facts, now, published, watch = rig
    now.at = MONDAY.replace(hour=15, minute=10)
    facts.held = [
        _session(MONDAY.replace(hour=16, minute=0)),  # after the close
        _session((MONDAY + timedelta(days=1)).replace(hour=6, minute=0)),  # tomorrow's 06:00
        _session(MONDAY.replace(hour=15, minute=0)),  # already expired
    ]
    assert watch.expiring_sessions() == 0
    now.at = MONDAY.replace(hour=8, minute=10)
    facts.held = [_session(MONDAY.replace(hour=9, minute=0))]  # before the open: not urgent
    assert watch.expiring_sessions() == 1
    assert published[0].urgency is Urgency.NORMAL
    now.at = CHRISTMAS.replace(hour=10)
    facts.held = [_session(CHRISTMAS.replace(hour=10, minute=30))]
    assert watch.expiring_sessions() == 0  # no trading that day


def test_run_reads_the_sessions_every_five_minutes(rig):
    facts, now, _published, watch = rig
    now.at = MONDAY.replace(hour=10)
    for minute in range(11):
        now.at = MONDAY.replace(hour=10, minute=minute)
        watch.run()
    assert facts.reads == 3  # 10:00, 10:05, 10:10


def test_the_watch_job_runs_every_step_and_then_reports_a_failure():
    from types import SimpleNamespace

    from chalicelib.jobs import notify

    ran = []

    def broken_sweep() -> int:
        raise ConnectionError("table unavailable")

    def checks() -> dict[str, int]:
        ran.append("checks")
        return {"engine_missing": 0}

    container = SimpleNamespace(
        notifications=SimpleNamespace(resend_unsent=broken_sweep),
        notification_watch=SimpleNamespace(run=checks),
    )
    with pytest.raises(RuntimeError, match="resend"):
        notify.watch(container)  # type: ignore[arg-type]
    assert ran == ["checks"]  # the sweep's failure did not skip the checks
