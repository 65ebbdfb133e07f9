"""The plan Lambda's part and gather calls (jobs/tick.py): which part an event plans, the run
all parts of one execution share, and the tick's plan gathered from the parts' answers."""

from __future__ import annotations

from datetime import datetime

import pytest

from chalicelib.domain.calendar import IST
from chalicelib.domain.plan_parts import PlanPart
from chalicelib.errors import ValidationFailed
from chalicelib.jobs import tick

SLOT = datetime(2026, 11, 25, 9, 20, tzinfo=IST)
EXECUTION = "arn:aws:states:ap-south-1:1:execution:optexec-tick:abc"


def test_an_event_plans_the_whole_slot_or_one_part():
    assert tick.part_of({"scheduled_time": "x"}) is None
    assert tick.part_of({"part": 2, "parts": 4}) == PlanPart(2, 4)
    for bad in ({"part": 4, "parts": 4}, {"part": "1", "parts": 4}, {"part": True, "parts": 2}):
        with pytest.raises(ValidationFailed):
            tick.part_of(bad)


def test_the_parts_of_one_execution_share_a_run_and_another_execution_does_not():
    run = tick.run_of(SLOT, {"execution": EXECUTION})
    assert run.startswith("2026-11-25T09:20:00+05:30#")
    assert tick.run_of(SLOT, {"execution": EXECUTION, "part": 3}) == run
    assert tick.run_of(SLOT, {"execution": EXECUTION + "-retry"}) != run
    with pytest.raises(ValidationFailed):
        tick.run_of(SLOT, {})


def test_gather_joins_the_parts_indexes_and_counts_a_failed_part():
    planned = [
        {"fire": [0, 1], "settle": [0], "orders": 14, "executions": 2, "failed": 0},
        {"failed": 1},  # its Lambda failed after the retries
        {"fire": [20], "settle": [20000, 20001], "orders": 7, "executions": 11, "failed": 0},
        {"fire": [], "settle": [], "orders": 0, "executions": 0, "failed": 0},
    ]
    gathered = tick.gather(SLOT, {"execution": EXECUTION, "planned": planned})
    assert gathered == {
        "slot": "2026-11-25T09:20:00+05:30",
        "wake_at": "2026-11-25T03:49:55Z",
        "run": tick.run_of(SLOT, {"execution": EXECUTION}),
        "fire": [0, 1, 20],
        "settle": [0, 20000, 20001],
        "orders": 21,
        "executions": 13,
        "parts": 4,
        "plan_failed": 1,
    }
    with pytest.raises(ValidationFailed):
        tick.gather(SLOT, {"execution": EXECUTION, "planned": {"fire": []}})
