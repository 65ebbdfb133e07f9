"""Serialised closers: the risk monitor takes the same close lease as the kill switch and the exit
at T (``services/leases.py``), so on one (strategy, account) they never both close.

Each race holds the monitor's close at the broker (a ``slow`` trap keeps its answer back) while
the other actor acts; afterwards the platform's positions equal the broker's, no order (tag)
reached the broker twice, and at most one stop rests per position (``Scenario.check``).
"""

from __future__ import annotations

from datetime import datetime

from chalicelib.domain.calendar import IST
from tests.integration.risk.harness import (
    SHORT_SL30,
    Scenario,
    Sim,
    exit_orders,
    fire_exit,
    is_close,
    plan_exit,
    step_in_thread,
)

TARGET = {**SHORT_SL30, "target": {"type": "POINTS", "value": "20"}}


def closes_sent(s: Scenario) -> list[dict[str, str]]:
    return [p for p in s.placed() if p["order_type"] == "LIMIT"]


def drive_until_flat(s: Scenario, passes: int = 6) -> str:
    switch = s.sim.container.kill_switch
    for _ in range(passes):
        s.sim.clock.advance(5)
        switch.drive_due(s.now)
        [item] = switch.active(s.sim.uid)
        if item.status == "FLAT":
            return item.status
    return item.status


def test_the_monitor_holds_the_close_lease_while_it_closes(sim: Sim):
    s = Scenario(sim, [TARGET], {})
    s.enter()
    s.trap("place", is_close, "slow", delay=1.5)
    s.price(0, "79.00")
    sim.clock.advance()
    join = step_in_thread(s, s.engine, lambda: bool(closes_sent(s)))
    leases = sim.container.leases
    account = sim.account["id"]
    busy = not leases.acquire(sim.uid, s.strategy_id, account, "kill:probe", ttl=5)
    join()
    assert busy  # while its close was out, nobody else could take the pair
    assert leases.acquire(sim.uid, s.strategy_id, account, "kill:probe", ttl=5)  # released
    leases.release(sim.uid, s.strategy_id, account, "kill:probe")
    assert s.position(0) == 0 and s.broker_position(0) == 0
    s.check()


def test_the_monitor_does_not_close_while_another_closer_holds_the_lease(sim: Sim):
    s = Scenario(sim, [TARGET], {})
    s.enter()
    leases = sim.container.leases
    account = sim.account["id"]
    assert leases.acquire(sim.uid, s.strategy_id, account, "kill:other", ttl=10)
    s.price(0, "79.00")
    s.steps(3)  # the target is hit, but the pair is another closer's: no cancel, no close
    assert [p["order_type"] for p in s.placed()] == ["SL"]
    assert s.guards()[0]["state"] == "EXITING" and sum(s.resting_stops().values()) == 1
    s.steps(2, seconds=5)  # its lease expired (a crashed holder): the monitor closes, once
    assert [p["order_type"] for p in s.placed()] == ["SL", "LIMIT"]
    assert s.position(0) == 0 and s.broker_position(0) == 0
    s.check()


def test_a_monitor_close_racing_a_kill_switch_closes_once(sim: Sim):
    s = Scenario(sim, [TARGET, SHORT_SL30], {})
    s.enter()
    s.trap("place", is_close, "slow", delay=1.5)
    s.price(0, "79.00")  # leg 0's target: the monitor closes it while the switch lands
    sim.clock.advance()
    join = step_in_thread(s, s.engine, lambda: bool(closes_sent(s)))
    engaged = sim.api.call("POST", "/kill-switch", {"scope": "strategy", "id": s.strategy_id})
    join()
    assert engaged.status_code == 202, engaged.body
    assert drive_until_flat(s) == "FLAT"
    assert s.platform_positions() == {} and s.broker_positions() == {}
    buys = [p for p in s.placed() if p["transaction_type"] == "BUY" and p["order_type"] == "LIMIT"]
    assert len(buys) == 2  # leg 0's target close, leg 1's square-off: nothing closed twice
    s.step()  # a monitor cycle after the switch does nothing more
    assert len(s.placed()) == len(buys) + 2  # and the two stops
    s.check()


def test_a_monitor_close_racing_the_exit_at_t_closes_once(sim: Sim):
    s = Scenario(sim, [TARGET, SHORT_SL30], {})
    s.enter()
    sim.clock.now = datetime(2026, 11, 26, 15, 14, 40, tzinfo=IST)
    planned = plan_exit(s)  # both legs held at T-20 s: two BUYs planned
    assert len(planned) == 2
    s.trap("place", is_close, "slow", delay=1.5)
    s.price(0, "79.00")
    sim.clock.advance(15)  # 15:14:55: leg 0's target; its close is out as T arrives
    join = step_in_thread(s, s.engine, lambda: bool(closes_sent(s)))
    counts = fire_exit(s, planned)  # the exit's hook waits for the monitor's lease
    join()
    assert counts["sent"] == 1, counts  # leg 1 only: leg 0 was closed by its target
    statuses = sorted(o.status for o in exit_orders(s))
    assert statuses == ["CANCELLED", "COMPLETE"], statuses
    assert s.platform_positions() == {} and s.broker_positions() == {}
    s.steps(2)
    s.check()


def test_two_monitors_and_a_kill_switch_close_each_position_once(sim: Sim):
    s = Scenario(sim, [TARGET, TARGET], {})
    s.enter()
    s.trap("place", is_close, "slow", delay=1.0, count=2)
    s.price(0, "79.00")
    s.price(1, "79.00")
    second = s.fresh_engine()
    sim.clock.advance()
    first = step_in_thread(s, s.engine, lambda: bool(closes_sent(s)))
    other = step_in_thread(s, second, lambda: True)
    sim.api.call("POST", "/kill-switch", {"scope": "strategy", "id": s.strategy_id})
    first()
    other()
    assert drive_until_flat(s) == "FLAT"
    s.steps(2)
    assert s.platform_positions() == {} and s.broker_positions() == {}
    s.check()
