"""Shared builders for the domain tests."""

from datetime import date, time

from chalicelib.domain.calendar import RegularHours, TradingCalendar


def weekdays_only_calendar(*years: int, holidays: dict[date, str] | None = None) -> TradingCalendar:
    """A calendar with no holidays (unless given) for years outside the packaged data."""
    hours = [RegularHours(date(2010, 1, 4), time(9, 15), time(15, 30))]
    return TradingCalendar(holidays or {}, years, hours)
