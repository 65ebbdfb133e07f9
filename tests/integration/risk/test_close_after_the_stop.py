"""Close only what the stop did not: a close waits until the broker confirms the stop's cancel; a
failed cancel (a 500) is asked again and the close keeps waiting; if the stop filled meanwhile
there is nothing to close. For leg exits (target), MTM exits and the exit time, each also with a
crashed monitor and with two monitors at once.
"""

from __future__ import annotations

from datetime import datetime

from chalicelib.adapters.dynamo.order_items import order_item
from chalicelib.domain.calendar import IST
from chalicelib.jobs import risk as risk_jobs
from chalicelib.services.closing import BrokerLtp
from chalicelib.services.exit_guard import ExitGuard
from chalicelib.services.exits import PositionCloser
from chalicelib.services.firer import Firer
from tests.integration.risk.harness import (
    SHORT_SL30,
    Crash,
    Scenario,
    Sim,
    anything,
    is_close,
    while_sending,
)

TARGET = {**SHORT_SL30, "target": {"type": "POINTS", "value": "20"}}
MTM = {"mtm_stop_loss": "1000"}  # one NIFTY lot (65) short: exits at a loss of 16 points


def kinds(s: Scenario) -> list[str]:
    return [p["order_type"] for p in s.placed()]


def test_target_waits_for_a_failed_stop_cancel_and_closes_nothing_if_the_stop_filled(sim: Sim):
    s = Scenario(sim, [TARGET], {})
    s.enter()
    s.trap("cancel", anything, "error_500")
    s.price(0, "79.00")
    s.step()  # target hit: the stop's cancel fails, so no close is sent
    assert kinds(s) == ["SL"] and s.guards()[0]["state"] == "EXITING"
    assert sum(s.resting_stops().values()) == 1
    s.price(0, "131.00")  # the stop is still live and fills
    s.steps(2)
    assert kinds(s) == ["SL"]  # nothing left to close
    assert s.position(0) == 0 and s.broker_position(0) == 0
    assert [g["state"] for g in s.guards()] == ["DONE"]
    s.check()


def test_target_retries_a_failed_stop_cancel_then_closes_once(sim: Sim):
    s = Scenario(sim, [TARGET], {})
    s.enter()
    s.trap("cancel", anything, "error_500")
    s.price(0, "79.00")
    s.step()
    s.steps(2)  # the cancel is asked again, confirmed, then the close is sent
    assert kinds(s) == ["SL", "LIMIT"]
    assert s.position(0) == 0 and s.broker_position(0) == 0
    s.check()


def test_mtm_exit_waits_for_a_failed_stop_cancel_and_closes_nothing_if_the_stop_filled(sim: Sim):
    s = Scenario(sim, [SHORT_SL30], MTM)
    s.enter()
    s.trap("cancel", anything, "error_500")
    s.price(0, "125.00")  # loss 25 x 65 >= 1000
    s.step()
    book = s.book()
    assert book.mtm["exited"]["ALL"]["reason"] == "MTM_STOP_LOSS"
    assert kinds(s) == ["SL"] and book.status == "LIVE"  # waiting for the stop's cancel
    s.price(0, "131.00")
    s.steps(2)
    assert kinds(s) == ["SL"]
    assert s.position(0) == 0 and s.broker_position(0) == 0
    assert s.book().status == "DONE"
    s.check()


def test_mtm_exit_closes_legs_without_rules_and_the_stopped_leg_once(sim: Sim):
    s = Scenario(sim, [{"side": "SELL"}, SHORT_SL30], MTM)
    s.enter()
    s.price(0, "120.00")  # loss 20 x 65 on the leg without rules
    s.step()
    assert s.position(0) == 0 and s.position(1) == 0
    assert sorted(kinds(s)) == ["LIMIT", "LIMIT", "SL"]
    assert s.book().status == "DONE"
    s.check()


def test_a_crash_during_an_mtm_close_is_resumed(sim: Sim):
    s = Scenario(sim, [SHORT_SL30, SHORT_SL30], MTM)
    s.enter()
    s.trap("place", is_close, "crash_before")
    s.price(0, "125.00")
    sim.clock.advance()
    try:
        s.engine.step(s.book(), s.now)
        raise AssertionError("the trap did not spring")
    except Crash:
        pass
    # leg 0's stop cancelled, its close claimed but never sent: the old engine stopped here
    assert s.broker_position(0) == -s.contracts[0].lot_size
    s.engine = s.fresh_engine()
    s.steps(3)  # the claimed close is looked up by tag within the broker's lag
    s.steps(3, seconds=5)  # then known never to have arrived, and sent anew
    assert s.position(0) == 0 and s.position(1) == 0
    assert s.broker_position(0) == 0 and s.broker_position(1) == 0
    assert s.book().status == "DONE"
    s.check()


def test_a_crash_right_after_an_mtm_close_was_sent_sends_nothing_again(sim: Sim):
    s = Scenario(sim, [SHORT_SL30], MTM)
    s.enter()
    s.trap("place", is_close, "crash_after")
    s.price(0, "125.00")
    sim.clock.advance()
    try:
        s.engine.step(s.book(), s.now)
        raise AssertionError("the trap did not spring")
    except Crash:
        pass
    s.engine = s.fresh_engine()
    s.steps(3)
    assert kinds(s) == ["SL", "LIMIT"]
    assert s.position(0) == 0 and s.broker_position(0) == 0
    s.check()


def test_two_monitors_take_one_mtm_exit(sim: Sim):
    s = Scenario(sim, [SHORT_SL30, SHORT_SL30], MTM)
    s.enter()
    s.trap("place", is_close, "slow", delay=1.0, count=4)
    s.price(0, "125.00")
    second = s.fresh_engine()
    sim.clock.advance()
    while_sending(s, s.engine, second)
    s.steps(2)
    s.step(engine=second)
    assert sorted(kinds(s)) == ["LIMIT", "LIMIT", "SL", "SL"]
    assert s.position(0) == 0 and s.position(1) == 0
    s.check()


def exit_at_t(s: Scenario, settle_step: bool = False) -> dict[str, int]:
    """The strategy's planned exit fired at 15:15:00 through the firer and its hook, then
    settled (with ``settle_step``: as the tick's settle step and the local clock do, which then
    give the exit's close leases back)."""
    c = s.sim.container
    closer = PositionCloser(c.executions, c.broker_access, c.market, BrokerLtp(), c.clock)
    children, errors = closer.exit_orders(s.sim.uid, s.strategy_id)
    assert not errors
    s.sim.clock.now = datetime(2026, 11, 26, 15, 15, tzinfo=IST)
    execution = c.executions.open_execution(
        s.sim.uid, s.now.date().isoformat(), s.strategy_id, "EXIT", s.now.isoformat(), "test"
    )
    assert execution is not None
    items = [
        order_item(s.sim.uid, execution.sk, s.strategy_id, "EXIT", child, s.now)
        for child in children
    ]
    c.executions.put_orders(items)
    firer = Firer(
        adapter_for=c.broker_access.adapter, market=c.market, wall=c.clock,
        executions=c.executions, before_send=ExitGuard(s.engine, c.leases, s.engine.settlement),
    )  # fmt: skip
    counts = firer.fire(items)
    s.engine.settlement.settle(s.sim.uid, execution.sk)
    if settle_step:
        assert risk_jobs.arm(c, s.sim.uid, execution.sk) is None
    return counts


def test_exit_time_leaves_a_stop_whose_cancel_failed_to_the_monitor(sim: Sim):
    s = Scenario(sim, [SHORT_SL30], {})
    s.enter()
    s.trap("cancel", anything, "error_500", count=2)
    counts = exit_at_t(s)
    assert counts["sent"] == 0  # the stop may still fill: the exit does not close under it
    assert sum(s.resting_stops().values()) == 1
    book = s.book()
    assert book.status == "LIVE" and book.guards[0]["state"] == "EXITING"
    s.steps(2)  # no settle step gave the exit's lease (15 s) back: the monitor waits
    assert kinds(s) == ["SL"] and s.book().guards[0]["state"] == "EXITING"
    s.steps(2, seconds=8)  # then it asks again, the cancel is confirmed, it closes
    assert kinds(s) == ["SL", "LIMIT"]
    assert s.position(0) == 0 and s.broker_position(0) == 0
    assert s.book().status == "DONE"
    s.check()


def test_a_settled_exit_gives_its_lease_back_and_the_monitor_finishes_at_once(sim: Sim):
    s = Scenario(sim, [SHORT_SL30], {})
    s.enter()
    s.trap("cancel", anything, "error_500", count=2)
    assert exit_at_t(s, settle_step=True)["sent"] == 0  # settled: its lease is given back
    assert s.book().guards[0]["state"] == "EXITING" and sum(s.resting_stops().values()) == 1
    s.steps(2)  # no wait for the lease: the cancel is asked again, confirmed, the leg closed
    assert kinds(s) == ["SL", "LIMIT"]
    assert s.position(0) == 0 and s.broker_position(0) == 0
    assert s.book().status == "DONE"
    s.check()


def test_exit_time_with_a_failed_stop_cancel_then_the_stop_fills(sim: Sim):
    s = Scenario(sim, [SHORT_SL30, SHORT_SL30], {})
    s.enter()
    [first] = [o.broker_order_id for o in s.orders("STOP") if o.request["leg"] == 0]
    s.trap("cancel", lambda order_id: order_id == first, "error_500", count=2)
    counts = exit_at_t(s)
    assert counts["sent"] == 1  # the leg whose stop was cancelled is closed by the exit
    s.price(0, "131.00")  # leg 0's stop, never confirmed cancelled, fills
    s.steps(2)
    assert s.platform_positions() == {} and s.broker_positions() == {}
    s.check()
