"""The plan and fire Lambda handlers, invoked through Chalice's test client."""

from __future__ import annotations

import threading
from datetime import datetime
from types import SimpleNamespace

import pytest

from chalicelib.adapters.dynamo import tick_items
from chalicelib.adapters.dynamo.models import OrderItem
from chalicelib.domain.calendar import IST
from chalicelib.domain.plan_parts import PlanPart
from chalicelib.errors import NotFound, ValidationFailed
from chalicelib.jobs import tick
from chalicelib.services.tick_plan import PlannedExecution, TickPlan
from tests.factories import four_leg_strategy


def _invoke(client, name, payload):
    return client.lambda_.invoke(name, payload).payload


def test_plan_reads_the_slot_through_gsi2(client, setup, container):
    api = setup["api"]
    body = four_leg_strategy(setup["basket"], setup["a1"], setup["a2"])
    body["entry"] = {"time": "11:07:00", "days": ["WED"]}
    assert api.call("POST", "/strategies", body).status_code == 201
    # Wed 2026-11-25 11:06:00 IST is 05:36:00 UTC: the scheduler plans slot 11:07
    result = _invoke(client, "plan_tick", {"scheduled_time": "2026-11-25T05:36:00Z"})
    assert result["slot"] == "2026-11-25T11:07:00+05:30"
    assert result["wake_at"] == "2026-11-25T05:36:55Z"  # UTC: the Wait state reads no offset
    assert result["due"] >= 1
    assert result["dynamodb_requests_to_plan"] >= container.settings.schedule_shards
    # the paper accounts of this user never logged in: nothing is built, nothing to fire
    assert result["fire"] == [] and result["settle"] == [] and result["executions"] == 0


def test_the_parts_of_a_slot_plan_their_own_users_under_one_run(client, setup, container):
    """The state machine plans a slot in parts (one plan Lambda each), then gathers them."""
    api = setup["api"]
    body = four_leg_strategy(setup["basket"], setup["a1"], setup["a2"])
    body["entry"] = {"time": "11:08:00", "days": ["WED"]}
    assert api.call("POST", "/strategies", body).status_code == 201
    whole = container.repo.due("WED", "1108")
    execution = "arn:aws:states:ap-south-1:000000000000:execution:tick:parts"
    answers = [
        _invoke(client, "plan_tick", {"scheduled_time": "2026-11-25T05:37:00Z",
                                      "execution": execution, "part": n, "parts": 4})
        for n in range(4)
    ]  # fmt: skip
    assert sum(a["due"] for a in answers) == len(whole)  # every due item planned once
    mine = {item.uid for item in whole}
    for n, answer in enumerate(answers):
        held = {uid for uid in mine if PlanPart(n, 4).holds(uid)}
        assert (answer["due"] > 0) == bool(held)
    assert {a["run"] for a in answers} == {answers[0]["run"]}  # one run for the whole tick
    gathered = _invoke(client, "plan_tick", {"scheduled_time": "2026-11-25T05:37:00Z",
                                             "execution": execution, "planned": answers})  # fmt: skip
    assert gathered["run"] == answers[0]["run"] and gathered["plan_failed"] == 0
    assert gathered["slot"] == "2026-11-25T11:08:00+05:30"
    assert gathered["fire"] == sorted(i for a in answers for i in a["fire"])


def test_plan_skips_holidays_weekends_and_outside_the_session(client):
    holiday = _invoke(client, "plan_tick", {"scheduled_time": "2026-11-24T03:49:00Z"})
    assert holiday["fire"] == [] and holiday["skipped"]
    saturday = _invoke(client, "plan_tick", {"scheduled_time": "2026-11-28T03:49:00Z"})
    assert saturday["skipped"]
    early = _invoke(client, "plan_tick", {"scheduled_time": "2026-11-25T03:00:00Z"})  # 08:31 IST
    assert early["skipped"] == "outside the F&O session"


def test_fire_with_an_empty_batch_sends_nothing(client, platform_clock):
    run = "2026-11-25T09:20:00+05:30#empty"
    assert tick_items.store(run, tick_items.FIRE, [[]], platform_clock()) == [0]
    result = client.lambda_.invoke("fire_batch", {"slot": "s", "run": run, "batch": 0}).payload
    assert result == {"orders": 0, "sent": 0, "failed": 0, "skipped": 0}


def test_fire_and_settle_refuse_a_batch_that_is_not_a_reference(container):
    with pytest.raises(ValidationFailed) as error:
        tick.fire(container, {"slot": "s", "run": "r", "batch": {"orders": []}})
    assert error.value.field == "batch"
    with pytest.raises(ValidationFailed) as error:
        tick.settle(container, {"slot": "s", "batch": 0})
    assert error.value.field == "run"
    with pytest.raises(NotFound):
        tick.settle(container, {"slot": "s", "run": "no-such-run", "batch": 0})


def test_a_settle_batch_settles_its_executions_side_by_side(container, platform_clock):
    """No execution waits behind another's broker polls: each one's settlement only completes
    once all three are in progress at the same time (a barrier), which a one-after-another loop
    never reaches. Stops are armed for each; the batch's users are swept once."""
    refs = [{"uid": f"u{n}", "sk": f"EXEC#2026-11-25#s{n}#ENTRY"} for n in range(3)]
    run = "2026-11-25T09:20:00+05:30#side-by-side"
    tick_items.store(run, tick_items.SETTLE, [refs], platform_clock())
    together = threading.Barrier(len(refs), timeout=10)
    armed, swept = [], []

    def settle(uid, sk):
        together.wait()  # raises BrokenBarrierError unless all three settle at once
        return SimpleNamespace(status="COMPLETE")

    services = SimpleNamespace(
        tick_batches=container.tick_batches,
        settlement=SimpleNamespace(settle=settle),
        risk=SimpleNamespace(arm=lambda uid, sk: armed.append(sk)),
        recovery=SimpleNamespace(
            sweep=lambda now, users: swept.append(users) or SimpleNamespace(as_dict=dict)
        ),
    )
    result = tick.settle(services, {"slot": "s", "run": run, "batch": 0})
    assert result["statuses"] == {r["sk"]: "COMPLETE" for r in refs} and result["errors"] == 0
    assert sorted(armed) == sorted(r["sk"] for r in refs)
    assert swept == [["u0", "u1", "u2"]]


def test_a_part_stores_its_batches_in_its_own_range_of_the_run(container, platform_clock):
    """Part 2 of 4 numbers its fire batches from 20 (at most 10: the tick stays at 40) and its
    settle batches from 20,000; every order is in one batch, an account's orders together."""
    slot = datetime(2026, 11, 25, 9, 20, tzinfo=IST)
    plan = TickPlan(slot)
    for n in range(60):  # 60 accounts, two orders each
        uid = f"9{n:03d}"
        planned = PlannedExecution(uid, "s", "ENTRY", f"EXEC#2026-11-25#s{n}#ENTRY", slot)
        for leg in range(2):
            pk, sk = OrderItem.key(uid, "2026-11-25", f"E{n}L{leg}-ACC{n}")
            planned.orders.append(
                OrderItem(pk, sk, uid=uid, account_id=f"ACC{n}", scheduled_at=slot.isoformat())
            )
        plan.executions.append(planned)
    run = "2026-11-25T09:20:00+05:30#part2"
    answer = tick.dispatch(
        container.tick_batches, plan, slot, platform_clock(), run=run, part=PlanPart(2, 4)
    )
    assert answer["run"] == run
    assert answer["fire"] == list(range(20, 30))
    assert answer["settle"] == list(range(20_000, 20_006))
    batches = [tick_items.load(run, tick_items.FIRE, i) for i in answer["fire"]]
    assert sum(len(b) for b in batches) == 120
    accounts = [{ref["sk"].rsplit("-", 1)[-1] for ref in batch} for batch in batches]
    assert sum(len(a) for a in accounts) == 60  # no account in two batches
    settled = [tick_items.load(run, tick_items.SETTLE, i) for i in answer["settle"]]
    assert sum(len(b) for b in settled) == 60
