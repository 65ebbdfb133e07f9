"""The trading calendar of the Indian index-options market (IST), built from dated data.

Answers "is the exchange open on this date, and when?". A *trading day* is a day with a regular or
special full session; a muhurat day is a holiday with a short evening session, so it is not a
trading day (expiries never fall on it and strategies do not fire on it), yet ``session(d)``
returns its muhurat ``Session`` for callers that want to show it.

Dates outside the years covered by ``holidays.json`` raise ``CalendarCoverageError`` instead of
guessing: a weekday is not a trading day just because the holiday list has not been published.
``fo_session_bounds`` is the exception: it answers for any date from the session data alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import cache
from zoneinfo import ZoneInfo

from chalicelib.domain.market_errors import CalendarCoverageError, ReferenceDataError
from chalicelib.domain.reference_data import (
    as_date,
    as_positive_int,
    as_time,
    field,
    in_force,
    load_data_file,
    sorted_by_effective_date,
)

IST = ZoneInfo("Asia/Kolkata")
_WEEKEND = (5, 6)


class SessionKind(StrEnum):
    """What sort of session a day has."""

    NORMAL = "normal"
    MUHURAT = "muhurat"
    SPECIAL = "special"


@dataclass(frozen=True, slots=True)
class Session:
    """One continuous F&O session on one date (IST wall-clock times)."""

    open: time
    close: time
    kind: SessionKind = SessionKind.NORMAL

    def contains(self, moment: time) -> bool:
        """True when ``moment`` is within [open, close)."""
        return self.open <= moment < self.close


@dataclass(frozen=True, slots=True)
class RegularHours:
    """The regular session hours from ``effective_from`` onwards."""

    effective_from: date
    open: time
    close: time


@dataclass(frozen=True, slots=True)
class SpecialSession:
    """A session on a date that the regular rules would not give (muhurat, budget Saturday)."""

    day: date
    session: Session


class TradingCalendar:
    """Holidays, regular hours and special sessions; pure and immutable after construction."""

    def __init__(
        self,
        holidays: dict[date, str],
        covered_years: Iterable[int],
        regular_hours: Sequence[RegularHours],
        special_sessions: Iterable[SpecialSession] = (),
    ) -> None:
        self._holidays = dict(holidays)
        self._years = frozenset(covered_years)
        if not self._years:
            raise ReferenceDataError("calendar covers no year", field="holidays")
        stray = [d for d in self._holidays if d.year not in self._years]
        if stray:
            raise ReferenceDataError(f"holidays outside covered years: {stray}", field="holidays")
        self._hours = sorted_by_effective_date(list(regular_hours), "sessions")
        self._special = {s.day: s.session for s in special_sessions}
        self.first_day = date(min(self._years), 1, 1)
        self.last_day = date(max(self._years), 12, 31)

    # -- coverage -------------------------------------------------------------------------
    def covers(self, d: date) -> bool:
        """True when the holiday data covers ``d``'s year."""
        return d.year in self._years

    def _check(self, d: date) -> None:
        if not self.covers(d):
            years = ", ".join(str(y) for y in sorted(self._years))
            raise CalendarCoverageError(
                f"no holiday data for {d.isoformat()} (calendar covers {years}); "
                "add the exchange's list to chalicelib/data/holidays.json",
                field="date",
            )

    # -- single days ----------------------------------------------------------------------
    def holiday_reason(self, d: date) -> str | None:
        """Why ``d`` has no regular session ("Weekend", a holiday name) or None on a trading day."""
        self._check(d)
        special = self._special.get(d)
        if special is not None and special.kind is SessionKind.SPECIAL:
            return None
        if d in self._holidays:
            return self._holidays[d]
        if d.weekday() in _WEEKEND:
            return "Weekend"
        return None

    def is_trading_day(self, d: date) -> bool:
        """A day with a regular (or special full) session. Muhurat days are not trading days."""
        return self.holiday_reason(d) is None

    def session(self, d: date) -> Session | None:
        """The session held on ``d``: regular hours, a special/muhurat session, or None."""
        self._check(d)
        special = self._special.get(d)
        if special is not None:
            return special
        if not self.is_trading_day(d):
            return None
        open_, close = self.fo_session_bounds(d)
        return Session(open_, close, SessionKind.NORMAL)

    def fo_session_bounds(self, d: date) -> tuple[time, time]:
        """Regular F&O hours in force on ``d``, whether or not ``d`` is a trading day.

        Used to validate strategy entry/exit times, which are set once and apply on many days.
        """
        hours = in_force(self._hours, d, "F&O session hours")
        return hours.open, hours.close

    def is_open(self, moment: datetime) -> bool:
        """True while a session (of any kind) is in progress at ``moment`` (must be tz-aware)."""
        if moment.tzinfo is None:
            raise ValueError("moment must be timezone-aware")
        local = moment.astimezone(IST)
        session = self.session(local.date())
        return session is not None and session.contains(local.time())

    # -- walking ------------------------------------------------------------------------
    def next_trading_day(self, d: date) -> date:
        """The first trading day strictly after ``d``."""
        candidate = d + timedelta(days=1)
        while not self.is_trading_day(candidate):
            candidate += timedelta(days=1)
        return candidate

    def previous_trading_day(self, d: date) -> date:
        """The last trading day strictly before ``d``."""
        candidate = d - timedelta(days=1)
        while not self.is_trading_day(candidate):
            candidate -= timedelta(days=1)
        return candidate

    def on_or_before(self, d: date) -> date:
        """``d`` itself if it is a trading day, else the previous trading day (expiry shifting)."""
        return d if self.is_trading_day(d) else self.previous_trading_day(d)

    def trading_days_between(self, a: date, b: date) -> list[date]:
        """Trading days in the closed interval [a, b] (empty when a > b)."""
        days: list[date] = []
        current = a
        while current <= b:
            if self.is_trading_day(current):
                days.append(current)
            current += timedelta(days=1)
        return days


def calendar_from_documents(holidays_doc: dict, sessions_doc: dict) -> TradingCalendar:
    """Build and validate a calendar from the two data documents (already shape-checked)."""
    holidays: dict[date, str] = {}
    years: list[int] = []
    for i, entry in enumerate(holidays_doc["entries"]):
        where = f"holidays.json entries[{i}]"
        year = field(entry, "year", where, as_positive_int)
        field(entry, "effective_from", where, as_date)
        for j, item in enumerate(field(entry, "holidays", where, list)):
            day = field(item, "date", f"{where}.holidays[{j}]", as_date)
            reason = field(item, "reason", f"{where}.holidays[{j}]", str)
            if day.year != year or day.weekday() in _WEEKEND or day in holidays:
                raise ReferenceDataError(
                    f"{where}: {day} is in another year, on a weekend or listed twice",
                    field="holidays",
                )
            holidays[day] = reason
        years.append(year)
    hours = [
        RegularHours(
            field(e, "effective_from", f"sessions.json entries[{i}]", as_date),
            field(e, "open", f"sessions.json entries[{i}]", as_time),
            field(e, "close", f"sessions.json entries[{i}]", as_time),
        )
        for i, e in enumerate(sessions_doc["entries"])
    ]
    specials = [
        _special_session(item, f"sessions.json special_sessions[{i}]")
        for i, item in enumerate(sessions_doc.get("special_sessions", []))
    ]
    for h in hours:
        if h.open >= h.close:
            raise ReferenceDataError("sessions.json: open must be before close", field="open")
    return TradingCalendar(holidays, years, hours, specials)


def _special_session(item: dict, where: str) -> SpecialSession:
    open_ = field(item, "open", where, as_time)
    close = field(item, "close", where, as_time)
    kind = field(item, "kind", where, SessionKind)
    if open_ >= close or kind is SessionKind.NORMAL:
        raise ReferenceDataError(f"{where}: bad times or kind", field="special_sessions")
    return SpecialSession(field(item, "date", where, as_date), Session(open_, close, kind))


@cache
def default_calendar() -> TradingCalendar:
    """The calendar from the packaged data files, loaded on first use and cached per process."""
    return calendar_from_documents(load_data_file("holidays"), load_data_file("sessions"))
