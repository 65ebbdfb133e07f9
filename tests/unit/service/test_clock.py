"""The shifted clock: a chosen instant that then runs at real speed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.services.clock import IST, ShiftedClock


class Ticks:
    def __init__(self) -> None:
        self.value = 100.0

    def __call__(self) -> float:
        return self.value


def test_starts_at_the_instant_and_advances_with_the_monotonic_clock():
    ticks = Ticks()
    clock = ShiftedClock(datetime(2026, 11, 30, 2, 0, tzinfo=IST), monotonic=ticks)
    assert clock() == datetime(2026, 11, 30, 2, 0, tzinfo=IST)
    ticks.value += 1.5
    assert clock() == datetime(2026, 11, 30, 2, 0, 1, 500000, tzinfo=IST)


def test_reads_in_ist_and_can_be_set_again():
    ticks = Ticks()
    clock = ShiftedClock(datetime(2026, 11, 29, 6, 30, tzinfo=UTC), monotonic=ticks)
    assert clock().utcoffset() == timedelta(hours=5, minutes=30)
    assert (clock().hour, clock().minute) == (12, 0)
    ticks.value += 10
    clock.set(datetime(2026, 12, 25, 10, 0, tzinfo=IST))
    assert clock() == datetime(2026, 12, 25, 10, 0, tzinfo=IST)


def test_refuses_a_naive_instant():
    with pytest.raises(ValueError):
        ShiftedClock(datetime(2026, 11, 30, 2, 0))
