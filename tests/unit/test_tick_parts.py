"""The plan Lambda's part and gather calls (jobs/tick.py): which part an event plans, the run
all parts of one execution share, and the tick's plan gathered from the parts' answers."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace

import pytest

from chalicelib.domain.calendar import IST
from chalicelib.domain.plan_parts import PlanPart
from chalicelib.errors import NotFound, ValidationFailed
from chalicelib.jobs import tick
from chalicelib.services.tick_plan import PlannedExecution, TickPlan
from tests.fakes.records import Order
from tests.fakes.tick_batches import FakeTickBatches

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


def _plan(accounts: int, users_from: int = 0) -> TickPlan:
    """``accounts`` users with one account and one two-order execution each."""
    plan = TickPlan(SLOT)
    for n in range(users_from, users_from + accounts):
        uid = f"{n:04x}-uid"
        planned = PlannedExecution(uid, "s", "ENTRY", f"EXEC#2026-11-25#s{n}#ENTRY", SLOT)
        for leg in range(2):
            planned.orders.append(
                Order(sk=f"ORDER#2026-11-25#E{n}L{leg}-A{n}", uid=uid, order_id=f"E{n}L{leg}-A{n}",
                      execution=planned.execution_sk, strategy_id="s", phase="ENTRY",
                      account_id=f"A{n}", broker="zerodha", tag=f"E{n}L{leg}", request={},
                      status="BUILT", scheduled_at=SLOT.isoformat())
            )  # fmt: skip
        plan.executions.append(planned)
    return plan


def test_the_parts_batches_share_one_run_without_colliding_and_stay_within_40():
    store = FakeTickBatches()
    run = tick.run_of(SLOT, {"execution": EXECUTION})
    answers = [
        tick.dispatch(store, _plan(60, users_from=100 * p), SLOT, SLOT, run, PlanPart(p, 4))
        for p in range(4)
    ]
    gathered = tick.gather(SLOT, {"execution": EXECUTION, "planned": answers})
    assert len(gathered["fire"]) == tick.MAX_FIRE_BATCHES  # 10 a part, every one starts at once
    assert len(set(gathered["fire"])) == len(gathered["fire"]) and len(gathered["settle"]) == 24
    refs = [r for i in gathered["fire"] for r in store.fire_refs(run, i)]
    assert len(refs) == 480 and len({(r["uid"], r["sk"]) for r in refs}) == 480
    for index in gathered["fire"]:  # an account's orders are in one batch only
        accounts = {r["sk"].rsplit("-", 1)[-1] for r in store.fire_refs(run, index)}
        others = {
            r["sk"].rsplit("-", 1)[-1]
            for i in gathered["fire"] if i != index for r in store.fire_refs(run, i)
        }  # fmt: skip
        assert not accounts & others
    executions = [r for i in gathered["settle"] for r in store.settle_refs(run, i)]
    assert len(executions) == 240


def test_one_planner_keeps_up_to_40_batches_and_its_own_run():
    store = FakeTickBatches()
    answer = tick.dispatch(store, _plan(300), SLOT, SLOT)
    assert answer["fire"] == list(range(40)) and answer["run"].startswith(SLOT.isoformat())
    small = tick.dispatch(store, _plan(3), SLOT, SLOT)
    assert small["fire"] == [0] and small["run"] != answer["run"]  # 5 accounts a batch


def test_fire_loads_its_batch_and_refuses_one_never_stored():
    order = _plan(1).executions[0].orders[0]
    store = FakeTickBatches({(order.uid, order.sk): order})
    run = "2026-11-25T09:20:00+05:30#x"
    store.store_fire(run, [[{"uid": order.uid, "sk": order.sk, "scheduled_at": "t"}]], SLOT)
    fired: list[list] = []
    container = SimpleNamespace(
        tick_batches=store,
        firer=SimpleNamespace(fire=lambda orders: fired.append(orders) or {"sent": len(orders)}),
    )
    assert tick.fire(container, {"slot": "s", "run": run, "batch": 0}) == {"orders": 1, "sent": 1}
    assert fired == [[order]]
    with pytest.raises(NotFound):
        tick.fire(container, {"slot": "s", "run": run, "batch": 1})
