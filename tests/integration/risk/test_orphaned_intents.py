"""Orphaned intents: a monitor that dies between storing a risk order (BUILT, with its tag) and
writing it into the book leaves an intent no guard names. The restarted monitor (the first time
it sees the book) and the recovery sweep resolve it by tag at the broker: never sent -> FAILED
``never_sent`` and the guard decides afresh; at the broker after all -> adopted into its guard
(the leg exits: its stop cancelled, only what is left closed) with an urgent alert."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.services.order_builder import ChildOrder
from chalicelib.services.order_sender import order_request
from tests.integration.risk.harness import SHORT_SL30, Crash, Scenario, Sim

TARGET = {**SHORT_SL30, "target": {"type": "POINTS", "value": "20"}}


def die_before_the_claim(s: Scenario) -> Any:
    """The target is hit; the monitor stores its close and dies before the book names it."""

    def checkpoint(step: str, order: Any) -> None:
        if step == "before_claim" and order.phase == "RISKX":
            raise Crash("died between storing the close and claiming it")

    s.engine.checkpoint = checkpoint
    s.price(0, "79.00")
    s.sim.clock.advance()
    with pytest.raises(Crash):
        s.engine.step(s.book(), s.now)
    [orphan] = s.orders("RISKX")
    assert orphan.status == "BUILT" and not s.guards()[0].get("exit_orders")
    return orphan


def status(s: Scenario, order_id: str) -> str:
    return next(o.status for o in s.orders() if o.order_id == order_id)


def closes(s: Scenario) -> list[dict[str, str]]:
    return [p for p in s.placed() if p["order_type"] == "LIMIT"]


def test_the_restarted_monitor_abandons_an_orphan_and_closes_once(sim: Sim):
    s = Scenario(sim, [TARGET], {})
    s.enter()
    orphan = die_before_the_claim(s)
    s.engine = s.fresh_engine()
    s.steps(3, seconds=2)  # past the grace: the orphan is looked up, absent, abandoned
    assert status(s, orphan.order_id) == "FAILED"
    assert [o.error["code"] for o in s.orders("RISKX") if o.status == "FAILED"] == ["never_sent"]
    assert len(closes(s)) == 1  # the guard decided afresh: one close, under a new tag
    assert closes(s)[0]["tag"] != orphan.tag
    assert s.position(0) == 0 and [g["state"] for g in s.guards()] == ["DONE"]
    s.check()


def test_the_recovery_sweep_abandons_an_orphan(sim: Sim):
    s = Scenario(sim, [TARGET], {})
    s.enter()
    orphan = die_before_the_claim(s)
    s.price(0, "100.00")  # the market came back: nobody needs to close
    sim.clock.advance(10)
    report = sim.container.recovery.sweep(users=[sim.uid])
    assert report.never_sent == 1 and status(s, orphan.order_id) == "FAILED"
    assert not closes(s) and s.position(0) == -s.contracts[0].lot_size
    s.check()


def test_an_orphan_found_at_the_broker_is_adopted_and_the_leg_exits(sim: Sim):
    s = Scenario(sim, [TARGET], {})
    s.enter()
    orphan = die_before_the_claim(s)
    c = sim.container
    adapter = c.broker_access.adapter(sim.uid, sim.account["id"])
    adapter.place(order_request(ChildOrder.from_dict(orphan.request), c.market))  # it left anyway
    s.engine = s.fresh_engine()
    sim.clock.advance(3)  # restarted past the grace (a younger orphan may be a live actor's)
    s.steps(3, seconds=2)
    assert status(s, orphan.order_id) == "COMPLETE"  # adopted: settled by its tag
    assert orphan.order_id in s.guards()[0]["exit_orders"]
    assert len(closes(s)) == 1  # the adopted close: nothing closed again
    assert [e["code"] for e in s.events("alert")] == ["orphan_adopted"]
    assert s.position(0) == 0 and not s.resting_stops()
    assert [g["state"] for g in s.guards()] == ["DONE"]
    s.check()
