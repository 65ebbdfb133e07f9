"""The tick's state machine definition (infra/tick.asl.json.tftpl) read as data: what a failed
batch does, and that no state passes a list that grows with the tick.

The emulator's Lambda doubles always succeed, so a failing fire Lambda cannot be staged there
(tests/integration/test_infra_apply.py runs the happy paths and the largest tick); the failure
routing is checked here on the definition itself, the way Step Functions reads it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

INFRA = Path(__file__).resolve().parents[2] / "infra"


def _definition() -> dict[str, Any]:
    text = (INFRA / "tick.asl.json.tftpl").read_text()
    text = re.sub(r"\$\{(\w+_concurrency)\}", "40", text)
    text = text.replace("${plan_parts}", "[0, 1, 2, 3]").replace("${plan_part_count}", "4")
    text = re.sub(r"\$\{(\w+_arn)\}", r"arn:aws:lambda:ap-south-1:1:function:\1", text)
    return json.loads(text)


def _catch_target(state: dict[str, Any]) -> str:
    [catch] = [c for c in state["Catch"] if "States.ALL" in c["ErrorEquals"]]
    return catch["Next"]


def test_a_failed_fire_batch_is_settled_around_then_fails_the_tick():
    states = _definition()["States"]
    fire = states["Fire"]["ItemProcessor"]["States"]
    failed = fire[_catch_target(fire["FireBatch"])]
    assert failed == {"Type": "Pass", "Result": 1, "End": True}  # marks the batch, never hides it
    assert states["Fire"]["Next"] == "Settle"  # the other batches' executions still settle
    outcome = states[states["Settle"]["Next"]]
    assert outcome["Parameters"]["fire_failed.$"] == "States.ArrayContains($.fired, 1)"
    choice = states[outcome["Next"]]
    routes = {c["Variable"]: c["Next"] for c in choice["Choices"]}
    assert states[routes["$.outcome.fire_failed"]] == {
        "Type": "Fail",
        "Error": "BatchFailed",
        "Cause": states["BatchFailed"]["Cause"],
    }
    assert states[routes["$.outcome.settle_failed"]]["Type"] == "Fail"
    assert states[choice["Default"]]["Type"] == "Succeed"
    # a failed execution is what the tick-failed alarm counts
    alarms = (INFRA / "alarms.tf").read_text()
    assert 'metric_name         = "ExecutionsFailed"' in alarms


def test_only_references_travel_through_the_states():
    definition = _definition()
    states = definition["States"]
    selected = states["Plan"]["ResultSelector"]
    assert set(selected) == {"slot.$", "wake_at.$", "run.$", "fire.$", "settle.$", "plan_failed.$"}
    part = states["PlanParts"]["ItemProcessor"]["States"]["PlanPart"]
    # a part answers its batch indexes and two counts: never its orders
    assert set(part["ResultSelector"]) == {
        "fire.$",
        "settle.$",
        "orders.$",
        "executions.$",
        "failed",
    }
    for name in ("Fire", "Settle"):
        items = states[name]["ItemSelector"]
        assert items == {
            "slot.$": "$.plan.slot",
            "run.$": "$.plan.run",
            "batch.$": "$$.Map.Item.Value",
        }
        inner = states[name]["ItemProcessor"]["States"]
        task = next(s for s in inner.values() if s["Type"] == "Task")
        # each iteration answers 0 or 1: the Map's output is a list of small integers
        assert task["ResultSelector"] == {"failed": 0} and task["OutputPath"] == "$.failed"
        assert states[name]["MaxConcurrency"] <= 40  # an inline Map's ceiling
    assert definition["TimeoutSeconds"] <= 3600


def test_a_failed_plan_part_still_fires_the_other_parts_then_fails_the_tick():
    states = _definition()["States"]
    parts = states["PlanParts"]
    assert parts["ItemsPath"] == "$.parts" and states["Parts"]["Result"] == [0, 1, 2, 3]
    assert parts["ItemSelector"]["part.$"] == "$$.Map.Item.Value"
    assert parts["ItemSelector"]["execution.$"] == "$$.Execution.Id"  # one run for all parts
    inner = parts["ItemProcessor"]["States"]
    assert inner[_catch_target(inner["PlanPart"])] == {
        "Type": "Pass",
        "Result": {"failed": 1},
        "End": True,
    }
    assert parts["Next"] == "Plan"  # the gather runs whatever the parts answered
    due = {c["Variable"]: c["Next"] for c in states["AnythingDue"]["Choices"]}
    assert due["$.plan.fire[0]"] == "WaitUntilFire"  # the other parts' batches are fired
    assert due["$.plan.plan_failed"] == "PlanFailed"  # nothing to fire: fail at once
    routes = {c["Variable"]: c["Next"] for c in states["AnyFailed"]["Choices"]}
    assert routes["$.plan.plan_failed"] == "PlanFailed"  # after the fire and settle
    assert states["PlanFailed"]["Type"] == "Fail"
