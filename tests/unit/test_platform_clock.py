"""The platform's clock: the shifted clock of `make run AT=`, its one setting, /health, the demo."""

import json
from datetime import datetime, timedelta

import pytest

from chalicelib.container import Container, platform_clock, use_container
from chalicelib.domain.calendar import IST
from chalicelib.services.clock import ClockShift, ShiftedClock, system_clock
from chalicelib.settings import Settings
from localdev.demo import demo_clock, demo_start
from localdev.run import describe_day, parse_at
from sim.servers import exchange_clock

AT = datetime(2026, 12, 1, 9, 19, 30, tzinfo=IST)
WALL = datetime(2026, 11, 29, 3, 0, 0, tzinfo=IST)  # a Sunday night
BASE = {
    "TABLE_NAME": "t",
    "USER_POOL_ID": "p",
    "USER_POOL_CLIENT_ID": "c",
    "SECRETS_KMS_KEY_ID": "k",
}


def test_a_shift_starts_each_process_where_the_platform_is_now_then_runs_at_real_speed():
    shift = ClockShift(AT, WALL)
    started_later = shift.clock(wall=lambda: WALL + timedelta(seconds=95))
    assert isinstance(started_later, ShiftedClock)  # the tests' clock, not a twin
    assert abs(started_later() - (AT + timedelta(seconds=95))) < timedelta(seconds=1)
    assert started_later().tzinfo == IST
    assert ClockShift.parse(shift.spec()) == shift and shift.offset == AT - WALL


@pytest.mark.parametrize("raw", ["2026-12-01T09:19:30", "2026-12-01T09:19:30+05:30", "x@y"])
def test_a_bad_shift_is_refused(raw):
    with pytest.raises(ValueError):
        ClockShift.parse(raw)


def test_the_clock_is_one_setting_wired_by_the_container():
    spec = ClockShift(AT, WALL).spec()
    settings = Settings.from_env({**BASE, "STAGE": "local", "PLATFORM_CLOCK": spec})
    assert settings.clock_shift == ClockShift(AT, WALL)
    assert isinstance(platform_clock(settings), ShiftedClock)
    assert platform_clock(Settings.from_env(BASE)) is system_clock
    with pytest.raises(ValueError, match="PLATFORM_CLOCK"):
        Settings.from_env({**BASE, "PLATFORM_CLOCK": "tomorrow"})


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_a_shifted_clock_is_refused_on_aws_stages(stage):
    with pytest.raises(ValueError, match="only emulator stages"):
        Settings.from_env(
            {**BASE, "STAGE": stage, "PLATFORM_CLOCK": f"{AT.isoformat()}@{WALL.isoformat()}"}
        )


def test_health_reports_the_platform_now_in_ist():
    from chalice.test import Client

    from app import app
    from chalicelib.adapters.dynamo.models import BaseItem, bind_table

    meta = BaseItem.Meta
    bound = (meta.table_name, meta.region, getattr(meta, "host", None))
    container = Container(Settings.from_env({**BASE, "STAGE": "test"}), clock=lambda: AT)
    use_container(container)
    try:
        with Client(app, stage_name="test") as client:
            body = json.loads(client.http.get("/health").body)
    finally:
        use_container(None)
        bind_table(*bound)
    assert body["now"] == "2026-12-01T09:19:30+05:30" and body["status"] == "ok"


def test_at_without_an_offset_is_ist():
    assert parse_at("2026-12-01T09:19:30") == AT
    assert parse_at("2026-12-01T03:49:30+00:00") == AT
    assert "trading day" in describe_day(AT)
    assert "Weekend" in describe_day(WALL)


@pytest.mark.parametrize(
    ("now", "start"),
    [
        # Monday 02:00: this morning is still ahead (it used to pick Tuesday)
        (datetime(2026, 11, 30, 2, 0, tzinfo=IST), datetime(2026, 11, 30, 9, 30, tzinfo=IST)),
        # Friday evening: Monday
        (datetime(2026, 11, 27, 18, 0, tzinfo=IST), datetime(2026, 11, 30, 9, 30, tzinfo=IST)),
        # Monday evening before a holiday Tuesday (2026-11-24): Wednesday
        (datetime(2026, 11, 23, 16, 0, tzinfo=IST), datetime(2026, 11, 25, 9, 30, tzinfo=IST)),
        # in a session: now
        (datetime(2026, 11, 30, 11, 0, tzinfo=IST), datetime(2026, 11, 30, 11, 0, tzinfo=IST)),
    ],
)
def test_the_demo_starts_on_the_next_trading_morning_still_ahead(now, start):
    assert demo_start(now) == start
    assert demo_clock(now).offset == start - now
    assert demo_clock(now, AT).offset == AT - now


def test_the_simulated_exchange_runs_on_the_same_shifted_clock():
    assert isinstance(exchange_clock(ClockShift(AT, WALL).spec()), ShiftedClock)
    assert exchange_clock("")().tzinfo is not None
