from datetime import datetime

import pytest

from chalicelib.domain.calendar import IST
from chalicelib.errors import ValidationFailed
from chalicelib.jobs.tick import slot_of

NOW = datetime(2026, 11, 25, 9, 19, 0, tzinfo=IST)


def test_slot_is_the_next_minute_in_ist():
    assert slot_of({"scheduled_time": "2026-11-25T03:49:00Z"}, NOW).isoformat() == (
        "2026-11-25T09:20:00+05:30"
    )
    assert slot_of({"scheduled_time": "2026-11-25T09:19:59.900+05:30"}, NOW).minute == 20
    assert slot_of({}, NOW).isoformat() == "2026-11-25T09:20:00+05:30"


@pytest.mark.parametrize("raw", ["yesterday", "2026-11-25T03:49:00", 42])
def test_bad_scheduled_times_are_refused(raw):
    with pytest.raises(ValidationFailed):
        slot_of({"scheduled_time": raw}, NOW)
