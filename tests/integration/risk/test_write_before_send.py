"""Write before you send: every stop and close is an intent on the risk book before the broker
call; a second monitor, a restarted one or a freeze resolves it by tag instead of sending another.

Rows of issue #17 covered here: two monitors with a slow broker ack, a crash right after a close
or a stop was sent, and arming racing the monitor.
"""

from __future__ import annotations

import threading
from typing import Any

from tests.integration.risk.harness import (
    SHORT_SL30,
    Crash,
    Scenario,
    Sim,
    is_close,
    is_stop,
    while_sending,
)

TARGET = {**SHORT_SL30, "target": {"type": "POINTS", "value": "20"}}


def test_two_monitors_with_a_slow_close_ack_close_once(sim: Sim):
    s = Scenario(sim, [TARGET], {})
    s.enter()
    lot = s.contracts[0].lot_size
    s.trap("place", is_close, "slow", delay=1.5, count=2)
    s.price(0, "79.00")
    second = s.fresh_engine()
    sim.clock.advance()
    while_sending(s, s.engine, second)  # the second reads the book while the close is out
    s.steps(2)
    s.step(engine=second)
    assert [p["transaction_type"] for p in s.placed()] == ["BUY", "BUY"]  # the stop, one close
    assert s.position(0) == 0 and s.broker_position(0) == 0 and lot
    assert [g["state"] for g in s.guards()] == ["DONE"]
    s.check()


def test_a_crash_right_after_the_close_was_sent_is_resolved_by_tag(sim: Sim):
    s = Scenario(sim, [TARGET], {})
    s.enter()
    s.trap("place", is_close, "crash_after")
    s.price(0, "79.00")
    sim.clock.advance()
    try:
        s.engine.step(s.book(), s.now)
        raise AssertionError("the trap did not spring")
    except Crash:
        pass
    assert s.broker_position(0) == 0  # the close reached the broker; the platform never heard
    [close] = s.orders("RISKX")
    assert close.status == "SENT" and not close.broker_order_id
    s.engine = s.fresh_engine()  # the restarted monitor
    s.steps(3)
    [close] = s.orders("RISKX")
    assert close.status == "COMPLETE" and close.broker_order_id
    assert [p["transaction_type"] for p in s.placed()] == ["BUY", "BUY"]  # nothing sent again
    assert s.position(0) == 0 and [g["state"] for g in s.guards()] == ["DONE"]
    s.check()


def test_a_crash_right_after_the_stop_was_placed_leaves_one_stop(sim: Sim):
    s = Scenario(sim, [SHORT_SL30], {})
    s.trap("place", is_stop, "crash_after")
    try:
        s.enter()
        raise AssertionError("the trap did not spring")
    except Crash:
        pass
    assert sum(s.resting_stops().values()) == 1
    s.engine = s.fresh_engine()
    s.steps(3)
    [stop] = s.orders("STOP")
    assert stop.status == "OPEN" and stop.broker_order_id  # found by its tag
    assert sum(s.resting_stops().values()) == 1
    s.price(0, "131.00")  # the stop fills at the exchange
    s.steps(2)
    assert s.position(0) == 0 and s.broker_position(0) == 0
    assert [g["reason"] for g in s.guards()] == ["STOP_LOSS"]
    s.check()


def test_a_crash_before_a_claimed_stop_was_sent_places_it_once(sim: Sim):
    s = Scenario(sim, [SHORT_SL30], {})
    s.trap("place", is_stop, "crash_before")
    try:
        s.enter()
        raise AssertionError("the trap did not spring")
    except Crash:
        pass
    assert not s.resting_stops()
    s.engine = s.fresh_engine()
    s.steps(3)  # inside the broker's lag the order is only looked up
    assert not s.resting_stops()
    s.steps(2, seconds=5)  # past it: never arrived, so the stop is placed (a new tag)
    assert sum(s.resting_stops().values()) == 1
    assert len([p for p in s.placed() if p["order_type"] == "SL"]) == 1
    s.check()


def test_arming_racing_the_monitor_places_one_stop_per_position(sim: Sim):
    legs = [{**SHORT_SL30, "price": str(100 + 5 * i)} for i in range(5)]
    s = Scenario(sim, legs, {})
    s.enter(arm=False)
    stop = threading.Event()
    monitors = [s.fresh_engine(), s.fresh_engine()]

    def monitor(engine: Any) -> None:
        while not stop.is_set():
            engine.cycle(s.now)

    threads = [threading.Thread(target=monitor, args=(m,)) for m in monitors]
    for t in threads:
        t.start()
    try:
        s.engine.arm(sim.uid, s.execution.sk)
        for _ in range(3):
            s.engine.cycle(s.now)
    finally:
        stop.set()
        for t in threads:
            t.join()
    s.steps(2)
    assert s.resting_stops() == {sym: 1 for sym in s.platform_positions()}
    assert len([p for p in s.placed() if p["order_type"] == "SL"]) == 5
    s.check()
