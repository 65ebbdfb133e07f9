from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.calendar import default_calendar
from chalicelib.domain.expiry import (
    ExpiryChoice,
    ExpiryKind,
    ExpiryRules,
    default_expiry_rules,
    listed_expiries,
    resolve_expiry,
    rule_sets_from_document,
    trading_days_to_expiry,
)
from chalicelib.domain.market_errors import CalendarCoverageError, NoSuchExpiry, ReferenceDataError
from chalicelib.domain.reference_data import load_data_file
from chalicelib.domain.underlying import Underlying as U

from .helpers import weekdays_only_calendar

CW, NW, CM, NM = (
    ExpiryChoice.CURRENT_WEEK,
    ExpiryChoice.NEXT_WEEK,
    ExpiryChoice.CURRENT_MONTH,
    ExpiryChoice.NEXT_MONTH,
)
D = date.fromisoformat


def test_a_normal_week_nifty_expires_tuesday_sensex_thursday():
    monday = D("2026-12-07")
    assert resolve_expiry(U.NIFTY, CW, monday) == D("2026-12-08")
    assert resolve_expiry(U.NIFTY, NW, monday) == D("2026-12-15")
    assert resolve_expiry(U.SENSEX, CW, monday) == D("2026-12-10")
    assert resolve_expiry(U.SENSEX, NW, monday) == D("2026-12-17")


def test_current_week_on_expiry_day_is_today_and_moves_on_the_next_day():
    assert resolve_expiry(U.NIFTY, CW, D("2026-12-08")) == D("2026-12-08")
    assert resolve_expiry(U.NIFTY, CW, D("2026-12-09")) == D("2026-12-15")


def test_tuesday_holiday_moves_the_nifty_weekly_to_monday():
    # 2026-11-24 is a holiday; it is also the last Tuesday, so the November monthly moves too.
    for on in (D("2026-11-18"), D("2026-11-20"), D("2026-11-23")):
        assert resolve_expiry(U.NIFTY, CW, on) == D("2026-11-23")
    assert resolve_expiry(U.NIFTY, CM, D("2026-11-23")) == D("2026-11-23")
    # On the holiday itself (and after), the November contract has gone.
    assert resolve_expiry(U.NIFTY, CW, D("2026-11-24")) == D("2026-12-01")
    assert resolve_expiry(U.NIFTY, CM, D("2026-11-24")) == D("2026-12-29")


def test_mid_month_tuesday_holiday_weekly_on_monday():
    # 2026-04-14 (Tue, Ambedkar Jayanti) is not the last Tuesday: a plain weekly shift.
    assert resolve_expiry(U.NIFTY, CW, D("2026-04-08")) == D("2026-04-13")
    assert resolve_expiry(U.NIFTY, NW, D("2026-04-08")) == D("2026-04-21")


def test_last_tuesday_holiday_moves_the_march_2026_monthly_to_monday():
    for underlying in (U.NIFTY, U.BANKNIFTY, U.FINNIFTY, U.MIDCPNIFTY, U.NIFTYNXT50):
        assert resolve_expiry(underlying, CM, D("2026-03-02")) == D("2026-03-30")
    rules = default_expiry_rules()
    assert rules.monthly_expiry(U.NIFTY, 2026, 3) == D("2026-03-30")
    assert rules.is_monthly(U.NIFTY, D("2026-03-30"))
    assert not rules.is_monthly(U.NIFTY, D("2026-03-24"))


def test_bse_thursday_holiday_moves_sensex_to_wednesday():
    assert resolve_expiry(U.SENSEX, CW, D("2026-01-12")) == D("2026-01-14")


def test_rule_change_on_2025_09_01_both_regimes_side_by_side():
    on = D("2025-08-25")  # Monday of the last week under the old rules
    assert resolve_expiry(U.NIFTY, CW, on) == D("2025-08-28")  # Thursday (monthly, old rule)
    assert resolve_expiry(U.NIFTY, NW, on) == D("2025-09-02")  # Tuesday (new rule)
    assert resolve_expiry(U.NIFTY, CM, on) == D("2025-08-28")
    assert resolve_expiry(U.NIFTY, NM, on) == D("2025-09-30")  # last Tuesday of September
    assert resolve_expiry(U.SENSEX, CW, on) == D("2025-08-26")  # Tuesday (old rule)
    assert resolve_expiry(U.SENSEX, NW, on) == D("2025-09-04")  # Thursday (new rule)
    assert resolve_expiry(U.SENSEX, NM, on) == D("2025-09-25")  # last Thursday of September
    assert resolve_expiry(U.BANKNIFTY, CM, on) == D("2025-08-28")
    assert resolve_expiry(U.BANKNIFTY, NM, on) == D("2025-09-30")


def test_before_the_change_nifty_weeklies_were_thursdays():
    assert resolve_expiry(U.NIFTY, CW, D("2025-06-02")) == D("2025-06-05")
    assert resolve_expiry(U.NIFTY, CM, D("2025-06-02")) == D("2025-06-26")
    # 2025-04-10 and 2025-04-18 were Thursday/Friday holidays: Thu 04-10 -> Wed 04-09.
    assert resolve_expiry(U.NIFTY, CW, D("2025-04-07")) == D("2025-04-09")


def test_underlyings_without_weeklies_resolve_weeks_to_months():
    on = D("2026-11-02")
    for underlying in (U.BANKNIFTY, U.FINNIFTY, U.MIDCPNIFTY, U.NIFTYNXT50):
        assert resolve_expiry(underlying, CW, on) == D("2026-11-23")
        assert resolve_expiry(underlying, CM, on) == D("2026-11-23")
        assert resolve_expiry(underlying, NW, on) == D("2026-12-29")
        assert resolve_expiry(underlying, NM, on) == D("2026-12-29")


def test_pre_2024_11_20_weeklies_for_several_indices():
    cal = weekdays_only_calendar(2024)
    on = D("2024-11-04")  # Monday
    assert resolve_expiry(U.MIDCPNIFTY, CW, on, cal) == D("2024-11-04")
    assert resolve_expiry(U.FINNIFTY, CW, on, cal) == D("2024-11-05")
    assert resolve_expiry(U.BANKNIFTY, CW, on, cal) == D("2024-11-06")
    assert resolve_expiry(U.NIFTY, CW, on, cal) == D("2024-11-07")
    assert resolve_expiry(U.SENSEX, CW, on, cal) == D("2024-11-08")
    # From 2024-11-20 only NIFTY and SENSEX keep weeklies.
    on = D("2024-11-25")
    assert resolve_expiry(U.BANKNIFTY, CW, on, cal) == D("2024-11-28")
    assert resolve_expiry(U.BANKNIFTY, NW, on, cal) == D("2024-12-26")
    assert resolve_expiry(U.NIFTY, NW, on, cal) == D("2024-12-05")
    assert resolve_expiry(U.SENSEX, CW, on, cal) == D("2024-11-29")


def test_weekly_in_the_week_of_a_different_weekday_monthly_is_not_listed():
    # Before 2024-11-20 BANKNIFTY weeklies were Wednesdays and (modelled) monthlies Thursdays:
    # the week of the monthly has only the monthly.
    cal = weekdays_only_calendar(2024)
    rules = ExpiryRules(rule_sets_from_document(load_data_file("expiry_rules")), cal)
    october = rules.expiries(U.BANKNIFTY, D("2024-10-01"), D("2024-10-31"))
    assert [(e.date.day, e.kind) for e in october] == [
        (2, ExpiryKind.WEEKLY),
        (9, ExpiryKind.WEEKLY),
        (16, ExpiryKind.WEEKLY),
        (23, ExpiryKind.WEEKLY),
        (31, ExpiryKind.MONTHLY),
    ]


def test_listed_expiries_are_labelled_and_marked_monthly():
    listed = listed_expiries(U.NIFTY, D("2026-11-18"))
    assert [(e.date, e.kind) for e in listed] == [
        (D("2026-11-23"), ExpiryKind.MONTHLY),
        (D("2026-12-01"), ExpiryKind.WEEKLY),
        (D("2026-12-08"), ExpiryKind.WEEKLY),
        (D("2026-12-15"), ExpiryKind.WEEKLY),
        (D("2026-12-29"), ExpiryKind.MONTHLY),
    ]  # the January 2027 monthly is past the holiday data, so it is omitted
    assert listed[0].labels == (CW, CM)
    assert listed[1].labels == (NW,)
    assert listed[-1].labels == (NM,)
    assert listed[0].display == "23 NOV 2026 (monthly)"


def test_listed_expiries_for_a_monthly_only_underlying():
    listed = listed_expiries(U.BANKNIFTY, D("2026-06-01"))
    assert [(e.date, e.kind) for e in listed] == [
        (D("2026-06-30"), ExpiryKind.MONTHLY),
        (D("2026-07-28"), ExpiryKind.MONTHLY),
        (D("2026-08-25"), ExpiryKind.MONTHLY),
    ]
    assert listed[0].labels == (CW, CM)
    assert listed[1].labels == (NW, NM)


def test_expiry_past_the_calendar_raises():
    with pytest.raises(CalendarCoverageError):
        resolve_expiry(U.NIFTY, NM, D("2026-12-01"))


def test_trading_days_to_expiry():
    assert trading_days_to_expiry(D("2026-11-23"), D("2026-11-23")) == 0
    assert trading_days_to_expiry(D("2026-11-23"), D("2026-11-20")) == 1
    assert trading_days_to_expiry(D("2026-12-01"), D("2026-11-23")) == 5
    with pytest.raises(NoSuchExpiry):
        trading_days_to_expiry(D("2026-11-23"), D("2026-11-25"))


def test_expiry_rules_data_validation():
    import copy

    doc = copy.deepcopy(load_data_file("expiry_rules"))
    del doc["entries"][0]["monthly"]["SENSEX"]
    with pytest.raises(ReferenceDataError):
        rule_sets_from_document(doc)
    doc = copy.deepcopy(load_data_file("expiry_rules"))
    doc["entries"][0]["weekly"]["NIFTY"] = "SAT"
    with pytest.raises(ReferenceDataError):
        rule_sets_from_document(doc)


_DAYS = st.dates(min_value=D("2025-01-01"), max_value=D("2026-10-31"))


@given(on=_DAYS, underlying=st.sampled_from(list(U)))
def test_resolved_expiries_are_ordered_trading_days_on_or_after_today(on, underlying):
    cal = default_calendar()
    cw, nw, cm, nm = (resolve_expiry(underlying, c, on) for c in (CW, NW, CM, NM))
    for expiry in (cw, nw, cm, nm):
        assert expiry >= on
        assert cal.is_trading_day(expiry)
    assert cw < nw and cm < nm
    assert cw <= cm  # the nearest expiry is never after this month's monthly
    assert cm.month in (on.month, (on.month % 12) + 1)
    has_weeklies = default_expiry_rules().has_weeklies(underlying, on)
    # consecutive weeklies are a week apart give or take a holiday shift; monthlies up to 5 weeks
    assert nw - cw <= timedelta(days=10 if has_weeklies else 42)


@given(on=_DAYS)
def test_nifty_weeklies_since_the_change_fall_on_tuesday_or_the_day_before_a_holiday(on):
    expiry = resolve_expiry(U.NIFTY, CW, on)
    if expiry >= D("2025-09-02"):
        nominal = expiry + timedelta(days=(1 - expiry.weekday()) % 7)
        assert nominal.weekday() == 1
        assert all(
            not default_calendar().is_trading_day(expiry + timedelta(days=n))
            for n in range(1, (nominal - expiry).days + 1)
        )


def test_a_monthly_before_a_late_month_rule_change_stays_on_the_old_rule():
    from chalicelib.domain.expiry import ExpiryRuleSet

    old = default_expiry_rules().rules_on(D("2026-01-01"))
    late = ExpiryRuleSet(
        effective_from=D("2026-06-29"),
        weekly=old.weekly,
        monthly={**old.monthly, U.NIFTY: 4},  # last Friday from Mon 2026-06-29
        listed_weekly=4,
        listed_monthly=3,
    )
    rules = ExpiryRules([old, late], default_calendar())
    # June's last Friday (26th) is before the change, so June keeps the last Tuesday.
    assert rules.monthly_expiry(U.NIFTY, 2026, 6) == D("2026-06-30")
    assert rules.monthly_expiry(U.NIFTY, 2026, 7) == D("2026-07-31")


def test_no_expiry_for_ten_weeks_is_an_error_not_a_hang():
    closed = {D("2024-10-01") + timedelta(n): "closed" for n in range(92)}
    cal = weekdays_only_calendar(
        2024, holidays={d: r for d, r in closed.items() if d.weekday() < 5}
    )
    with pytest.raises(NoSuchExpiry):
        resolve_expiry(U.NIFTY, CW, D("2024-10-07"), cal)


def test_rules_can_be_rebound_to_another_calendar():
    cal = weekdays_only_calendar(2027)
    rules = default_expiry_rules().with_calendar(cal)
    assert rules.calendar is cal
    assert resolve_expiry(U.NIFTY, CW, D("2027-01-25"), rules=rules) == D("2027-01-26")
