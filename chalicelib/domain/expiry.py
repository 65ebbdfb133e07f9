"""Weekly and monthly option expiries, under the rule set in force for each expiry.

A rule set (``expiry_rules.json``) names, per underlying, the weekday of its weekly and of its
monthly expiry, from an effective date. Each candidate expiry is governed by the rule set in force
on its *nominal* date, so near a change both regimes appear side by side exactly as they did in the
market: on Thu 2025-08-28 the current NIFTY week is Thu 2025-08-28 (old rule) and the next week is
Tue 2025-09-02 (new rule). A nominal expiry that is not a trading day moves to the previous
trading day (Tue 2026-11-24 is a holiday, so that NIFTY weekly expires on Mon 2026-11-23).

A weekly that falls in the same week as the monthly is not a separate contract: the monthly
*is* that week's expiry.

Relative choices (``ExpiryChoice``), for a trading date ``on``:

* ``current_week``: the nearest expiry (weekly or monthly) on or after ``on``; ``next_week``: the
  one after it.
* ``current_month``: this month's monthly if it has not yet expired (its date >= ``on``), otherwise
  next month's; ``next_month``: the monthly after that.
* An underlying without weeklies on ``on`` (BANKNIFTY, FINNIFTY, MIDCPNIFTY, NIFTYNXT50 since
  2024-11-20): ``current_week`` resolves to ``current_month`` and ``next_week`` to ``next_month``
  here (the option chain's "nearest"); a strategy may not name such a label (``require_choice``).

Expiries past the end of the holiday data cannot be dated (the nominal day might be a holiday):
``resolve_expiry`` raises ``CalendarCoverageError`` for them and ``listed_expiries`` omits them.
A loaded instrument master is authoritative and wins over everything here (see ``market_model``).
"""

from __future__ import annotations

import calendar as _stdlib_calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from functools import cache

from chalicelib.domain.calendar import TradingCalendar, default_calendar
from chalicelib.domain.market_errors import (
    CalendarCoverageError,
    NoSuchExpiry,
    ReferenceDataError,
)
from chalicelib.domain.reference_data import (
    as_date,
    as_positive_int,
    as_underlying_map,
    field,
    in_force,
    load_data_file,
    sorted_by_effective_date,
)
from chalicelib.domain.underlying import Underlying

WEEKDAYS = {"MON": 0, "TUE": 1, "WED": 2, "THU": 3, "FRI": 4}


class ExpiryChoice(StrEnum):
    """Relative expiry a strategy leg asks for."""

    CURRENT_WEEK = "current_week"
    NEXT_WEEK = "next_week"
    CURRENT_MONTH = "current_month"
    NEXT_MONTH = "next_month"


class ExpiryKind(StrEnum):
    """Weekly or monthly contract (the monthly is the last expiry of its month)."""

    WEEKLY = "weekly"
    MONTHLY = "monthly"


@dataclass(frozen=True, slots=True, order=True)
class Expiry:
    """One expiry of one underlying; ``labels`` are the choices it answers on the listing date."""

    date: date
    kind: ExpiryKind
    underlying: Underlying
    labels: tuple[ExpiryChoice, ...] = ()

    @property
    def display(self) -> str:
        """Human label, e.g. '24 NOV 2026 (weekly)'."""
        return f"{self.date.strftime('%d %b %Y').upper()} ({self.kind.value})"


@dataclass(frozen=True, slots=True)
class ExpiryRuleSet:
    """Weekday of the weekly and the monthly expiry per underlying, from ``effective_from``."""

    effective_from: date
    weekly: Mapping[Underlying, int]
    monthly: Mapping[Underlying, int]
    listed_weekly: int
    listed_monthly: int


def _weekday(value: object) -> int:
    if not isinstance(value, str) or value not in WEEKDAYS:
        raise ValueError(f"weekday must be one of {sorted(WEEKDAYS)}")
    return WEEKDAYS[value]


def rule_sets_from_document(document: dict) -> list[ExpiryRuleSet]:
    """Parse and validate ``expiry_rules.json``; every underlying needs a monthly rule."""
    rule_sets = []
    for i, entry in enumerate(document["entries"]):
        where = f"expiry_rules.json entries[{i}]"
        listed = field(entry, "listed", where, dict)
        monthly = field(entry, "monthly", where, as_underlying_map(_weekday))
        if set(monthly) != set(Underlying):
            raise ReferenceDataError(f"{where}: every underlying needs a monthly", field="monthly")
        rule_sets.append(
            ExpiryRuleSet(
                effective_from=field(entry, "effective_from", where, as_date),
                weekly=field(entry, "weekly", where, as_underlying_map(_weekday)),
                monthly=monthly,
                listed_weekly=field(listed, "weekly", where, as_positive_int),
                listed_monthly=field(listed, "monthly", where, as_positive_int),
            )
        )
    return sorted_by_effective_date(rule_sets, "expiry_rules")


class ExpiryRules:
    """Expiry arithmetic over a rule history and a trading calendar (pure; memoised per month)."""

    def __init__(self, rule_sets: list[ExpiryRuleSet], calendar: TradingCalendar) -> None:
        self._rules = sorted_by_effective_date(rule_sets, "expiry_rules")
        self.calendar = calendar
        self._monthly_cache: dict[tuple[Underlying, int, int], date] = {}

    def with_calendar(self, calendar: TradingCalendar) -> ExpiryRules:
        """The same rule history over another calendar (tests, or a newer holiday list)."""
        return ExpiryRules(self._rules, calendar)

    def rules_on(self, d: date) -> ExpiryRuleSet:
        """The rule set in force on ``d``."""
        return in_force(self._rules, d, "expiry rule set")

    def has_weeklies(self, underlying: Underlying, on: date) -> bool:
        """Whether ``underlying`` has weekly contracts under the rules in force on ``on``."""
        return underlying in self.rules_on(on).weekly

    def monthly_expiry(self, underlying: Underlying, year: int, month: int) -> date:
        """The (holiday-shifted) monthly expiry of ``underlying`` for ``year``-``month``."""
        key = (underlying, year, month)
        if key not in self._monthly_cache:
            self._monthly_cache[key] = self.calendar.on_or_before(
                self._nominal_monthly(underlying, year, month)
            )
        return self._monthly_cache[key]

    def _nominal_monthly(self, underlying: Underlying, year: int, month: int) -> date:
        month_end = date(year, month, _stdlib_calendar.monthrange(year, month)[1])
        rules = self.rules_on(month_end)
        nominal = _last_weekday(month_end, rules.monthly[underlying])
        if nominal < rules.effective_from:
            nominal = _last_weekday(month_end, self.rules_on(nominal).monthly[underlying])
        return nominal

    def is_monthly(self, underlying: Underlying, expiry: date) -> bool:
        """True when ``expiry`` is the monthly expiry of its month (Kite uses the monthly form)."""
        return self.monthly_expiry(underlying, expiry.year, expiry.month) == expiry

    def expiries(self, underlying: Underlying, start: date, end: date) -> list[Expiry]:
        """Every (shifted) expiry of ``underlying`` dated in [start, end], oldest first.

        A shift only moves a date back, so nominal dates before ``start`` are never needed, and a
        nominal date after ``end`` that the calendar does not cover is skipped rather than guessed.
        """
        found: dict[date, Expiry] = {}
        monthly_weeks: set[tuple[int, int]] = set()
        horizon = end + timedelta(days=6)
        for year, month in _months(start, horizon):
            nominal = self._nominal_monthly(underlying, year, month)
            monthly_weeks.add(nominal.isocalendar()[:2])
            if self._worth_shifting(nominal, start, end):
                shifted = self.monthly_expiry(underlying, year, month)
                if start <= shifted <= end:
                    found[shifted] = Expiry(shifted, ExpiryKind.MONTHLY, underlying)
        day = start
        while day <= horizon:
            weekday = self.rules_on(day).weekly.get(underlying)
            if (
                weekday == day.weekday()
                and day.isocalendar()[:2] not in monthly_weeks
                and self._worth_shifting(day, start, end)
            ):
                shifted = self.calendar.on_or_before(day)
                if start <= shifted <= end and shifted not in found:
                    found[shifted] = Expiry(shifted, ExpiryKind.WEEKLY, underlying)
            day += timedelta(days=1)
        return [found[d] for d in sorted(found)]

    def _worth_shifting(self, nominal: date, start: date, end: date) -> bool:
        return nominal >= start and (nominal <= end or self.calendar.covers(nominal))


def _last_weekday(month_end: date, weekday: int) -> date:
    return month_end - timedelta(days=(month_end.weekday() - weekday) % 7)


def _months(start: date, end: date) -> list[tuple[int, int]]:
    months = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        months.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


@cache
def default_expiry_rules() -> ExpiryRules:
    """Expiry rules from the packaged data over the default calendar (loaded on first use)."""
    return ExpiryRules(rule_sets_from_document(load_data_file("expiry_rules")), default_calendar())


def _rules_for(calendar: TradingCalendar | None, rules: ExpiryRules | None) -> ExpiryRules:
    if rules is not None:
        return rules
    if calendar is None or calendar is default_calendar():
        return default_expiry_rules()
    return default_expiry_rules().with_calendar(calendar)


def _add_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def _monthlies_from(rules: ExpiryRules, underlying: Underlying, on: date, count: int) -> list[date]:
    """``count`` monthly expiries on or after ``on``: this month's if unexpired, then following."""
    year, month = on.year, on.month
    result: list[date] = []
    while len(result) < count:
        expiry = rules.monthly_expiry(underlying, year, month)
        if expiry >= on:
            result.append(expiry)
        year, month = _add_month(year, month)
    return result


def _weeklies_from(rules: ExpiryRules, underlying: Underlying, on: date, count: int) -> list[date]:
    """The first ``count`` expiries (any kind) on or after ``on``, for an underlying with weeklies.

    The window grows a week at a time so that nothing past the needed expiry is dated (a date
    beyond the holiday data would raise although it was never asked for).
    """
    end = on + timedelta(days=6)
    while True:
        dates = [e.date for e in rules.expiries(underlying, on, end)]
        if len(dates) >= count:
            return dates[:count]
        if end - on > timedelta(days=70):
            raise NoSuchExpiry(f"fewer than {count} expiries of {underlying} after {on}")
        end += timedelta(days=7)


def resolve_expiry(
    underlying: Underlying,
    choice: ExpiryChoice,
    on: date,
    calendar: TradingCalendar | None = None,
    *,
    rules: ExpiryRules | None = None,
) -> date:
    """The expiry date that ``choice`` means on ``on`` (see the module docstring for the rules)."""
    expiry_rules = _rules_for(calendar, rules)
    wants_next = choice in (ExpiryChoice.NEXT_WEEK, ExpiryChoice.NEXT_MONTH)
    count = 2 if wants_next else 1
    weekly = choice in (ExpiryChoice.CURRENT_WEEK, ExpiryChoice.NEXT_WEEK)
    if weekly and expiry_rules.has_weeklies(underlying, on):
        return _weeklies_from(expiry_rules, underlying, on, count)[-1]
    return _monthlies_from(expiry_rules, underlying, on, count)[-1]


WEEKLY_CHOICES = frozenset({ExpiryChoice.CURRENT_WEEK, ExpiryChoice.NEXT_WEEK})


def choices_for(
    underlying: Underlying, on: date, *, rules: ExpiryRules | None = None
) -> tuple[ExpiryChoice, ...]:
    """The expiry labels ``underlying`` answers on ``on``: the weekly ones only while it lists
    weeklies (since 2024-11-20 only NIFTY and SENSEX do), so a label is never silently read as
    another contract."""
    if _rules_for(None, rules).has_weeklies(underlying, on):
        return tuple(ExpiryChoice)
    return tuple(c for c in ExpiryChoice if c not in WEEKLY_CHOICES)


def require_choice(
    underlying: Underlying, choice: ExpiryChoice, on: date, *, rules: ExpiryRules | None = None
) -> None:
    """Raise ``NoSuchExpiry`` (field ``expiry``) when ``underlying`` has no ``choice`` on ``on``,
    naming the labels it has."""
    allowed = choices_for(underlying, on, rules=rules)
    if choice not in allowed:
        raise NoSuchExpiry(
            f"{underlying} lists no weekly expiries on {on}, so {choice} does not exist; "
            f"use one of: {', '.join(allowed)}",
            field="expiry",
        )


def listed_expiries(
    underlying: Underlying,
    on: date,
    calendar: TradingCalendar | None = None,
    *,
    rules: ExpiryRules | None = None,
) -> list[Expiry]:
    """Expiries open for trading on ``on`` (computed; a master lists the real ones).

    The next ``listed.weekly`` weekly-or-monthly expiries plus the next ``listed.monthly``
    monthlies, each labelled with the ``ExpiryChoice`` values it answers on ``on``. Expiries
    past the calendar's data are omitted because their date cannot be known.
    """
    expiry_rules = _rules_for(calendar, rules)
    rule_set = expiry_rules.rules_on(on)
    end = expiry_rules.calendar.last_day
    months_ahead = on + timedelta(days=31 * (rule_set.listed_monthly + 1))
    candidates = expiry_rules.expiries(underlying, on, min(end, months_ahead))
    weeklies = (
        candidates[: rule_set.listed_weekly] if expiry_rules.has_weeklies(underlying, on) else []
    )
    monthlies = [e for e in candidates if e.kind is ExpiryKind.MONTHLY][: rule_set.listed_monthly]
    labels = _labels(expiry_rules, underlying, on)
    chosen = sorted({e.date: e for e in weeklies + monthlies}.values())
    return [Expiry(e.date, e.kind, underlying, labels.get(e.date, ())) for e in chosen]


def _labels(
    rules: ExpiryRules, underlying: Underlying, on: date
) -> dict[date, tuple[ExpiryChoice, ...]]:
    labels: dict[date, tuple[ExpiryChoice, ...]] = {}
    for choice in ExpiryChoice:
        try:
            resolved = resolve_expiry(underlying, choice, on, rules=rules)
        except CalendarCoverageError:
            continue
        labels[resolved] = (*labels.get(resolved, ()), choice)
    return labels


def trading_days_to_expiry(expiry: date, on: date, calendar: TradingCalendar | None = None) -> int:
    """Trading days after ``on`` up to and including ``expiry``: 0 on expiry day itself.

    Raises ``NoSuchExpiry`` when the contract has already expired.
    """
    if expiry < on:
        raise NoSuchExpiry(f"contract expired on {expiry}, before {on}", field="expiry")
    cal = calendar or default_calendar()
    return len(cal.trading_days_between(on + timedelta(days=1), expiry))
