from datetime import UTC, date, datetime, time, timedelta

import pytest

from chalicelib.domain.calendar import (
    IST,
    RegularHours,
    SessionKind,
    TradingCalendar,
    calendar_from_documents,
    default_calendar,
)
from chalicelib.domain.market_errors import CalendarCoverageError, ReferenceDataError
from chalicelib.domain.reference_data import load_data_file

CAL = default_calendar()
HOLIDAYS_2026 = [
    "2026-01-15", "2026-01-26", "2026-03-03", "2026-03-26", "2026-03-31", "2026-04-03",
    "2026-04-14", "2026-05-01", "2026-05-28", "2026-06-26", "2026-09-14", "2026-10-02",
    "2026-10-20", "2026-11-10", "2026-11-24", "2026-12-25",
]  # fmt: skip
HOLIDAYS_2025 = [
    "2025-02-26", "2025-03-14", "2025-03-31", "2025-04-10", "2025-04-14", "2025-04-18",
    "2025-05-01", "2025-08-15", "2025-08-27", "2025-10-02", "2025-10-21", "2025-10-22",
    "2025-11-05", "2025-12-25",
]  # fmt: skip


@pytest.mark.parametrize("iso", HOLIDAYS_2025 + HOLIDAYS_2026)
def test_every_listed_holiday_is_closed_with_a_reason(iso):
    d = date.fromisoformat(iso)
    assert not CAL.is_trading_day(d)
    reason = CAL.holiday_reason(d)
    assert reason and reason != "Weekend"


def test_holiday_counts_match_market_rules():
    for year, expected in ((2025, HOLIDAYS_2025), (2026, HOLIDAYS_2026)):
        days = [date(year, 1, 1) + timedelta(n) for n in range(365)]
        weekday_holidays = [
            d.isoformat() for d in days if d.weekday() < 5 and not CAL.is_trading_day(d)
        ]
        assert weekday_holidays == expected


def test_six_2026_holidays_are_tuesdays():
    tuesdays = [d for d in HOLIDAYS_2026 if date.fromisoformat(d).weekday() == 1]
    assert len(tuesdays) == 6


def test_a_normal_week():
    week = [date(2026, 11, 16) + timedelta(n) for n in range(7)]  # Mon..Sun, no holiday
    assert [CAL.is_trading_day(d) for d in week] == [True] * 5 + [False] * 2
    assert CAL.holiday_reason(week[5]) == "Weekend"
    assert CAL.holiday_reason(week[0]) is None
    assert CAL.trading_days_between(week[0], week[6]) == week[:5]


def test_next_and_previous_trading_day_skip_weekends_and_holidays():
    assert CAL.next_trading_day(date(2026, 11, 20)) == date(2026, 11, 23)  # Fri -> Mon
    assert CAL.next_trading_day(date(2026, 11, 23)) == date(2026, 11, 25)  # skips Tue holiday
    assert CAL.previous_trading_day(date(2026, 11, 25)) == date(2026, 11, 23)
    assert CAL.previous_trading_day(date(2026, 4, 6)) == date(2026, 4, 2)  # Good Friday
    assert CAL.on_or_before(date(2026, 11, 24)) == date(2026, 11, 23)
    assert CAL.on_or_before(date(2026, 11, 23)) == date(2026, 11, 23)


def test_trading_days_between_is_empty_when_reversed_and_inclusive_at_ends():
    assert CAL.trading_days_between(date(2026, 11, 25), date(2026, 11, 23)) == []
    assert CAL.trading_days_between(date(2026, 11, 23), date(2026, 11, 25)) == [
        date(2026, 11, 23),
        date(2026, 11, 25),
    ]


def test_session_hours_change_to_1540_from_2026_08_03():
    assert CAL.session(date(2026, 7, 31)).close == time(15, 30)
    assert CAL.session(date(2026, 8, 3)).close == time(15, 40)
    assert CAL.session(date(2026, 8, 3)).open == time(9, 15)
    assert CAL.session(date(2026, 8, 3)).kind is SessionKind.NORMAL
    # Bounds are answered for a non-trading day too (strategy validation).
    assert CAL.fo_session_bounds(date(2026, 8, 1)) == (time(9, 15), time(15, 30))
    assert CAL.fo_session_bounds(date(2026, 8, 2)) == (time(9, 15), time(15, 30))
    assert CAL.fo_session_bounds(date(2026, 11, 24)) == (time(9, 15), time(15, 40))
    assert CAL.fo_session_bounds(date(2031, 1, 1)) == (time(9, 15), time(15, 40))
    assert CAL.session(date(2026, 11, 24)) is None


def test_muhurat_sessions_are_sessions_but_not_trading_days():
    muhurat_2025 = CAL.session(date(2025, 10, 21))
    assert muhurat_2025.kind is SessionKind.MUHURAT
    assert (muhurat_2025.open, muhurat_2025.close) == (time(13, 45), time(14, 45))
    assert not CAL.is_trading_day(date(2025, 10, 21))
    sunday = date(2026, 11, 8)
    assert CAL.session(sunday).kind is SessionKind.MUHURAT
    assert not CAL.is_trading_day(sunday)
    assert CAL.holiday_reason(sunday) == "Weekend"


def test_special_saturday_session_is_a_trading_day():
    budget = date(2025, 2, 1)
    assert CAL.is_trading_day(budget)
    assert CAL.session(budget).kind is SessionKind.SPECIAL
    assert CAL.next_trading_day(date(2025, 1, 31)) == budget


def test_is_open_uses_ist_and_half_open_interval():
    assert CAL.is_open(datetime(2026, 11, 23, 9, 15, tzinfo=IST))
    assert not CAL.is_open(datetime(2026, 11, 23, 15, 40, tzinfo=IST))
    assert CAL.is_open(datetime(2026, 11, 23, 4, 39, tzinfo=UTC))  # 10:09 IST
    assert not CAL.is_open(datetime(2026, 11, 23, 3, 44, tzinfo=UTC))  # 09:14 IST
    assert not CAL.is_open(datetime(2026, 11, 24, 10, 0, tzinfo=IST))
    with pytest.raises(ValueError):
        CAL.is_open(datetime(2026, 11, 23, 10, 0))


def test_dates_outside_the_holiday_data_raise_instead_of_guessing():
    with pytest.raises(CalendarCoverageError) as info:
        CAL.is_trading_day(date(2027, 1, 26))
    assert info.value.code == "calendar_not_covered"
    assert info.value.field == "date"
    with pytest.raises(CalendarCoverageError):
        CAL.next_trading_day(date(2026, 12, 31))
    with pytest.raises(CalendarCoverageError):
        CAL.session(date(2024, 12, 31))
    assert CAL.first_day == date(2025, 1, 1) and CAL.last_day == date(2026, 12, 31)


def _docs():
    import copy

    return copy.deepcopy(load_data_file("holidays")), copy.deepcopy(load_data_file("sessions"))


@pytest.mark.parametrize(
    "mutate",
    [
        lambda h, s: h["entries"][0]["holidays"].append({"date": "2025-03-01", "reason": "Sat"}),
        lambda h, s: h["entries"][0]["holidays"].append({"date": "2026-01-26", "reason": "x"}),
        lambda h, s: h["entries"][0]["holidays"].append({"date": "2025-02-26", "reason": "x"}),
        lambda h, s: h["entries"][0]["holidays"][0].pop("reason"),
        lambda h, s: h["entries"][0].update(year="twenty"),
        lambda h, s: s["entries"][0].update(close="09:00"),
        lambda h, s: s["entries"][1].update(effective_from="2010-01-04"),
        lambda h, s: s["entries"][0].update(open=915),
        lambda h, s: s["special_sessions"][0].update(kind="normal"),
        lambda h, s: s["special_sessions"][0].update(kind="lunch"),
    ],
)
def test_bad_calendar_data_is_rejected(mutate):
    holidays, sessions = _docs()
    mutate(holidays, sessions)
    with pytest.raises(ReferenceDataError):
        calendar_from_documents(holidays, sessions)


def test_calendar_needs_years_and_rejects_stray_holidays():
    hours = [RegularHours(date(2010, 1, 4), time(9, 15), time(15, 30))]
    with pytest.raises(ReferenceDataError):
        TradingCalendar({}, [], hours)
    with pytest.raises(ReferenceDataError):
        TradingCalendar({date(2027, 1, 26): "Republic Day"}, [2026], hours)
