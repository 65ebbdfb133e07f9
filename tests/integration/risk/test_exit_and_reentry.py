"""Exits at T close what is held at T, and re-entries never race an exit or a kill switch
(issue #17, Deliver 5).

* A re-entry that filled after the exit was planned is closed by the exit at T (the hook closes
  what is held beyond its plan), and no re-entry starts once the exit is (about to be) planned.
* No re-entry starts while a kill switch is engaging; a re-entry claimed but not yet sent when the
  switch lands is withdrawn, and one already at the broker is squared off by the switch.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from chalicelib.domain.calendar import IST
from tests.integration.risk.harness import (
    SHORT_SL30,
    Crash,
    Scenario,
    Sim,
    exit_orders,
    fire_exit,
    plan_exit,
)

RE_COST = {"side": "SELL", "stop_loss": {"type": "POINTS", "value": "10"},
           "re_entry": {"mode": "RE_COST", "max_count": 1}}  # fmt: skip
RE_ASAP = {**RE_COST, "re_entry": {"mode": "RE_ASAP", "max_count": 1}}


def at(s: Scenario, hh: int, mm: int, ss: int = 0) -> None:
    s.sim.clock.now = datetime(2026, 11, 26, hh, mm, ss, tzinfo=IST)


def sells_after_entry(s: Scenario) -> list[dict[str, str]]:
    return [p for p in s.placed() if p["transaction_type"] == "SELL"]


def crash_at_reentry(step: str) -> Callable[[str, Any], None]:
    """A checkpoint: the monitor dies at ``step`` of a re-entry order's send."""

    def checkpoint(reached: str, order: Any) -> None:
        if reached == step and order.phase == "REENTRY":
            raise Crash(f"died at {step} ({order.tag})")

    return checkpoint


def test_a_re_entry_filled_after_the_exit_was_planned_is_closed_at_t(sim: Sim):
    s = Scenario(sim, [SHORT_SL30, RE_COST], {})
    s.enter()
    lot = s.contracts[1].lot_size
    at(s, 15, 11)
    s.price(1, "111.00")  # leg 1's stop fills; it waits for the premium to come back to cost
    s.step()
    assert s.broker_position(1) == 0
    planned = plan_exit(s)  # planned early (a long lead): only leg 0 is held now
    assert len(planned) == 1
    at(s, 15, 12, 30)
    s.price(1, "100.00")
    s.step()  # back at cost: re-entered after the plan
    assert s.broker_position(1) == -lot and s.position(1) == -lot
    counts = fire_exit(s, planned)
    assert counts["sent"] == 2, counts  # the planned close and one for the re-entry
    assert sorted(o.status for o in exit_orders(s)) == ["COMPLETE", "COMPLETE"]
    assert s.platform_positions() == {} and s.broker_positions() == {}
    assert not s.resting_stops()
    s.steps(2)
    s.check()


def test_no_re_entry_starts_once_the_exit_is_planned(sim: Sim):
    s = Scenario(sim, [RE_ASAP], {})
    s.enter()
    at(s, 15, 14, 0)  # inside the exit's planning window (T - 90 s)
    s.price(0, "111.00")
    s.steps(2)
    assert s.broker_position(0) == 0 and not sells_after_entry(s)
    [guard] = s.guards()
    assert guard["state"] == "DONE"
    assert [e.get("why") for e in s.events("re_entry_expired")] == [
        "the strategy's exit is planned"
    ]
    s.check()


def test_no_re_entry_starts_while_a_kill_switch_is_engaging(sim: Sim):
    s = Scenario(sim, [RE_ASAP], {})
    s.enter()
    switch = sim.container.kill_switch
    # Engaged, its first pass not yet run: the book is not frozen yet.
    switch.engage(sim.uid, "strategy", s.strategy_id, who="test")
    s.price(0, "111.00")
    s.steps(2)  # the stop fills at the exchange; the re-entry is refused
    assert not sells_after_entry(s) and s.broker_position(0) == 0
    assert [e["kind"] for e in s.events("re_entry_refused")] == ["re_entry_refused"]
    [item] = switch.active(sim.uid)
    assert switch.drive(item, s.now).item.status == "FLAT"
    s.check()


def test_a_kill_switch_withdraws_a_re_entry_claimed_but_not_sent(sim: Sim):
    s = Scenario(sim, [RE_ASAP], {})
    s.enter()
    s.engine.checkpoint = crash_at_reentry("after_claim")
    s.price(0, "111.00")
    sim.clock.advance()
    try:
        s.engine.step(s.book(), s.now)  # stop filled, re-entry claimed in the book: dies
        raise AssertionError("the checkpoint did not spring")
    except Crash:
        pass
    [claimed] = s.orders("REENTRY")
    assert claimed.status == "BUILT"
    engaged = sim.api.call("POST", "/kill-switch", {"scope": "strategy", "id": s.strategy_id})
    assert engaged.status_code == 202 and engaged.data["status"] == "FLAT", engaged.body
    s.engine = s.fresh_engine()  # the restarted monitor: the book is frozen, nothing is sent
    s.steps(2, seconds=5)
    [withdrawn] = s.orders("REENTRY")
    assert withdrawn.status != "BUILT" and not withdrawn.broker_order_id
    assert not sells_after_entry(s)
    assert s.platform_positions() == {} and s.broker_positions() == {}
    s.check()


def test_a_kill_switch_closes_a_re_entry_sent_before_it_landed(sim: Sim):
    s = Scenario(sim, [RE_ASAP, SHORT_SL30], {})
    s.enter()
    s.engine.checkpoint = crash_at_reentry("after_send")
    s.price(0, "111.00")
    sim.clock.advance()
    try:
        s.engine.step(s.book(), s.now)  # the re-entry reached the broker; the answer was lost
        raise AssertionError("the checkpoint did not spring")
    except Crash:
        pass
    lot = s.contracts[0].lot_size
    assert s.broker_position(0) == -lot
    engaged = sim.api.call("POST", "/kill-switch", {"scope": "strategy", "id": s.strategy_id})
    assert engaged.status_code == 202, engaged.body
    switch = sim.container.kill_switch
    for _ in range(5):
        [item] = switch.active(sim.uid)
        if item.status == "FLAT":
            break
        sim.clock.advance(5)
        switch.drive_due(s.now)
    assert item.status == "FLAT"
    assert len(sells_after_entry(s)) == 1  # the re-entry, once
    assert s.platform_positions() == {} and s.broker_positions() == {}
    s.engine = s.fresh_engine()
    s.steps(2)
    s.check()


def test_a_re_entry_after_an_exit_planned_with_nothing_held_is_closed_after_t(sim: Sim):
    """Nothing was held when the exit was planned (no exit order, so no hook at T for the
    account); the re-entry that filled afterwards is closed by the monitor shortly after T."""
    s = Scenario(sim, [RE_COST], {})
    s.enter()
    lot = s.contracts[0].lot_size
    at(s, 15, 11)
    s.price(0, "111.00")  # the stop fills: flat, waiting for the premium to come back
    s.step()
    assert plan_exit(s) == []  # nothing held: the exit has no order for this account
    at(s, 15, 12, 30)
    s.price(0, "100.00")
    s.step()  # re-entered after the plan (before the 90 s cut-off)
    assert s.broker_position(0) == -lot and s.position(0) == -lot
    assert fire_exit(s, []) == {"sent": 0, "failed": 0, "skipped": 0}  # nothing fired at T
    s.steps(3)  # T + 3 s: the exit's hook would have had the account by now, had it an order
    assert s.broker_position(0) == -lot and sum(s.resting_stops().values()) == 1
    s.steps(4, seconds=5)  # past T + 15 s: the monitor closes it (stop cancelled first)
    assert s.broker_positions() == {} and s.platform_positions() == {}
    assert not s.resting_stops() and s.book().status == "DONE"
    assert [e["kind"] for e in s.events("exit_time_takeover")] == ["exit_time_takeover"]
    s.check()
