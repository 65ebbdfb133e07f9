"""The plan and fire Lambda handlers, invoked through Chalice's test client."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest

from chalicelib.adapters.dynamo import tick_items
from chalicelib.errors import NotFound, ValidationFailed
from chalicelib.jobs import tick
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
