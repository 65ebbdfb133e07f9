"""Wait and trade (issue #15, Deliver 1): a leg enters only once its premium has moved from its
premium at the entry time, before a deadline; past it the leg is skipped and the strategy's
leg-failure policy decides. On the simulated exchange with the index and premiums pinned second by
second, each test asserts the exact orders the fake Kite received.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from chalicelib.adapters.dynamo.order_items import order_item
from chalicelib.domain.instrument import ContractKey
from chalicelib.domain.protection import protected_limit_price
from chalicelib.domain.underlying import Underlying
from chalicelib.ports.broker import OrderRequest, OrderType
from chalicelib.services.closing import canonical_symbol
from chalicelib.services.order_sender import send
from tests.integration.risk.harness import Crash, Scenario, Sim

D = Decimal


def wait(direction: str, kind: str, value: str, until: str) -> dict[str, Any]:
    return {"direction": direction, "type": kind, "value": value, "until": until}


def atm_call(s: Scenario) -> ContractKey:
    """Pin NIFTY on a listed strike: the waiting leg (ATM) then resolves to this call."""
    spot = s.sim.exchange.spot("NIFTY")
    level = (spot / 50).to_integral_value() * 50
    s.sim.exchange.set_spot(Underlying.NIFTY, level)
    first = s.contracts[0].key
    return ContractKey(first.underlying, first.expiry, level, first.option_type)


def enter(s: Scenario, waiting: ContractKey, premium: str = "100") -> None:
    """The entry at T as the planner and firer make it: the legs that do not wait are sent and
    settled; the waiting ones are not sent (every leg waiting: the execution is WAITING). Then
    the book is armed, which takes the waiting legs' reference premium (T has passed)."""
    c = s.sim.container
    s.sim.exchange.set_price(waiting, D(premium))
    s.execution = c.executions.open_execution(
        s.sim.uid, s.now.date().isoformat(), s.strategy_id, "ENTRY", s.now.isoformat(), "test"
    )
    assert s.execution is not None
    adapter = c.broker_access.adapter(s.sim.uid, s.sim.account["id"])
    sent = [i for i, leg in enumerate(s.legs) if "wait_and_trade" not in leg]
    for i in sent:
        s.price(i, s.legs[i].get("price", "100"))
        item = order_item(s.sim.uid, s.execution.sk, s.strategy_id, "ENTRY",
                          s.child(i, s.legs[i]["side"]), s.now)  # fmt: skip
        send(adapter, item, c.market, c.executions, c.clock)
    if sent:
        s.engine.settlement.settle(s.sim.uid, s.execution.sk)
    else:
        c.executions.update_execution(s.execution, status="WAITING")
    s.since = len(s.sim.kite.received)
    assert s.engine.arm(s.sim.uid, s.execution.sk) is not None


def limit(side: str, ltp: str, s: Scenario) -> str:
    return str(protected_limit_price(side, D(ltp), on=s.now.date()))


def shape(placed: list[dict[str, str]]) -> list[tuple[str, ...]]:
    return [
        (p["transaction_type"], p["order_type"], p["tradingsymbol"], p["quantity"], p["price"],
         p.get("trigger_price", "0"))
        for p in placed
    ]  # fmt: skip


def waiting_entry(request: OrderRequest) -> bool:
    return request.order_type is OrderType.LIMIT and request.side.value == "SELL"


def test_a_leg_waiting_for_a_10_percent_rise_enters_once_when_crossed(sim: Sim):
    leg = {"side": "SELL", "stop_loss": {"type": "POINTS", "value": "10"},
           "wait_and_trade": wait("UP", "PERCENT", "10", "10:30:00")}  # fmt: skip
    s = Scenario(sim, [leg], {})
    key = atm_call(s)
    enter(s, key)
    lot = s.contracts[0].lot_size
    [guard] = s.guards()
    assert guard["state"] == "PENDING"
    assert (D(guard["reference"]), D(guard["wait_trigger"])) == (D("100"), D("110"))
    for premium in ("105.00", "109.95", "90.00"):  # not yet (a fall is not the move either)
        sim.exchange.set_price(key, D(premium))
        s.steps(2)
    assert s.placed() == [] and s.broker_positions() == {}
    sim.exchange.set_price(key, D("110.00"))
    s.step()
    placed = s.placed()
    symbol = placed[0]["tradingsymbol"]
    assert shape(placed) == [
        ("SELL", "LIMIT", symbol, str(lot), limit("SELL", "110.00", s), "0"),
        ("BUY", "SL", symbol, str(lot), placed[1]["price"], placed[1]["trigger_price"]),
    ], placed
    assert D(placed[1]["trigger_price"]) == D("120")  # the leg's stop, from its entry price
    s.steps(3)  # it entered once: nothing more is sent
    assert len(s.placed()) == 2
    assert s.broker_positions() == {canonical_symbol(key): -lot} == s.platform_positions()
    [event] = s.events("wait_and_trade_entered")
    assert D(event["entry_price"]) == D("110") and event["quantity"] == lot
    assert [g["state"] for g in s.guards()] == ["DONE", "ARMED"]
    s.check()


def test_a_leg_past_its_deadline_is_never_sent_and_unwind_closes_its_sibling(sim: Sim):
    legs = [
        {"side": "SELL", "wait_and_trade": wait("DOWN", "POINTS", "20", "10:01:00")},
        {"side": "SELL", "price": "80"},
    ]
    s = Scenario(sim, legs, {"on_leg_failure": "UNWIND"})
    key = atm_call(s)
    sibling = s.contracts[1]
    assert sibling.key != key
    enter(s, key)
    lot = sibling.lot_size
    assert s.broker_positions() == {canonical_symbol(sibling.key): -lot}
    sim.exchange.set_price(key, D("80.05"))  # 19.95 down: not the move
    s.steps(3, seconds=19)  # to 10:00:57
    assert s.placed() == []
    s.sim.exchange.set_price(sibling.key, D("82.00"))
    s.steps(4)  # 10:01:01: the deadline passed: skipped, and UNWIND closes the sibling
    sim.exchange.set_price(key, D("50.00"))  # the move comes too late
    s.steps(3)
    placed = s.placed()
    assert shape(placed) == [
        ("BUY", "LIMIT", placed[0]["tradingsymbol"], str(lot), limit("BUY", "82.00", s), "0")
    ], placed
    assert placed[0]["tradingsymbol"] != canonical_symbol(key)
    assert s.broker_positions() == {} == s.platform_positions()
    [skipped] = s.events("wait_and_trade_skipped")
    assert skipped["policy"] == "UNWIND" and skipped["leg"] == 0
    assert s.events("wait_and_trade_unwind")
    s.check()


def test_keep_records_the_skipped_leg_and_keeps_the_sibling(sim: Sim):
    legs = [
        {"side": "BUY", "wait_and_trade": wait("UP", "POINTS", "5", "10:00:20")},
        {"side": "SELL"},
    ]
    s = Scenario(sim, legs, {"on_leg_failure": "KEEP"})
    key = atm_call(s)
    enter(s, key)
    s.steps(3, seconds=8)  # to 10:00:24
    assert s.placed() == []
    assert s.broker_position(1) == -s.contracts[1].lot_size
    [alert] = [e for e in s.events("alert") if e["code"] == "wait_and_trade_expired"]
    assert alert["urgent"] is True
    s.check()


def test_a_monitor_restarted_after_the_waiting_entry_was_sent_does_not_send_it_twice(sim: Sim):
    leg = {"side": "SELL", "stop_loss": {"type": "POINTS", "value": "10"},
           "wait_and_trade": wait("UP", "POINTS", "10", "10:30:00")}  # fmt: skip
    s = Scenario(sim, [leg], {})
    key = atm_call(s)
    enter(s, key)
    lot = s.contracts[0].lot_size
    s.trap("place", waiting_entry, "crash_after")
    sim.exchange.set_price(key, D("110.00"))
    s.sim.clock.advance()
    try:
        s.engine.step(s.book(), s.now)
    except Crash:
        pass
    else:
        raise AssertionError("the trap did not spring")
    assert s.broker_positions() == {canonical_symbol(key): -lot}
    s.engine = s.fresh_engine()  # a restarted monitor: PENDING -> REENTERING was claimed
    s.steps(3)
    sells = [p for p in s.placed() if p["transaction_type"] == "SELL"]
    assert len(sells) == 1  # found by its tag, not sent again
    assert s.broker_positions() == {canonical_symbol(key): -lot} == s.platform_positions()
    assert sum(s.resting_stops().values()) == 1
    s.check()


def test_a_bought_leg_without_rules_waiting_for_a_fall_enters_once_and_is_not_watched(sim: Sim):
    s = Scenario(sim, [{"side": "BUY", "wait_and_trade": wait("DOWN", "POINTS", "10",
                                                              "11:00:00")}], {})  # fmt: skip
    key = atm_call(s)
    enter(s, key)
    lot = s.contracts[0].lot_size
    sim.exchange.set_price(key, D("90.05"))
    s.steps(2)
    assert s.placed() == []
    sim.exchange.set_price(key, D("89.00"))  # past the trigger (90): enters at the market
    s.steps(3)
    placed = s.placed()
    assert shape(placed) == [
        ("BUY", "LIMIT", placed[0]["tradingsymbol"], str(lot), limit("BUY", "89.00", s), "0")
    ], placed
    assert s.broker_positions() == {canonical_symbol(key): lot} == s.platform_positions()
    assert [g["state"] for g in s.guards()] == ["DONE", "DONE"]  # nothing left to watch
    s.check()


def test_no_waiting_leg_enters_while_a_kill_switch_is_engaging(sim: Sim):
    s = Scenario(sim, [{"side": "SELL", "wait_and_trade": wait("UP", "POINTS", "10",
                                                               "11:00:00")}], {})  # fmt: skip
    key = atm_call(s)
    enter(s, key)
    sim.container.kill_switch.engage(sim.uid, "strategy", s.strategy_id, who="test")
    sim.exchange.set_price(key, D("111.00"))  # the move is reached: the entry is refused
    s.steps(2)
    assert s.placed() == [] and s.broker_positions() == {}
    [refused] = s.events("wait_and_trade_refused")
    assert refused["leg"] == 0
    assert [g["state"] for g in s.guards()] == ["DONE"]
    s.check()
