"""Kill switch and exits on one strategy, through the API, the planner, the firer and the fake
brokers, on an injected clock (a fixed trading day: the tests pass at any real date and hour).

Every scenario ends by checking the two things that matter with real money: the platform's
positions equal the fake broker's, and no order reached the broker twice (every tag once, and
exactly the orders the scenario expects).
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest

from chalicelib.adapters.dynamo.lease_items import LeaseRepository
from chalicelib.domain.calendar import IST
from chalicelib.jobs import kill_switch as driver
from chalicelib.services.clock import ShiftedClock
from chalicelib.services.closing import canonical_symbol
from chalicelib.services.leases import Leases
from tests.integration.execution_rig import Rig, make_rig

DAY = datetime(2026, 11, 25, tzinfo=IST)  # a Wednesday and a trading day
ENTRY = DAY.replace(hour=9, minute=20)
EXIT = DAY.replace(hour=15, minute=15)


@pytest.fixture
def clock(platform_clock: ShiftedClock) -> ShiftedClock:
    """The platform's clock (API, planner, firer, kill switch and the fake exchange run on it)."""
    return platform_clock


@pytest.fixture
def rig(client, fakes, clock: ShiftedClock) -> Rig:
    """Logged in to the fake brokers on the scenario's day, so the sessions cover it."""
    clock.set(DAY.replace(hour=8, minute=50))
    return make_rig(client, fakes)


def _advance(clock: ShiftedClock, seconds: float) -> None:
    clock.set(clock() + timedelta(seconds=seconds))


def _strategy(rig: Rig, legs: list[tuple[str, str, int]], lots: int = 1) -> str:
    """A strategy on the rig's Zerodha account: legs of (side, CE|PE, ATM offset), no risk rules."""
    basket = rig.api.call("POST", "/baskets", {"name": "kill", "enabled": True}).data
    body = {
        "basket_id": basket["id"], "name": "kill drill", "underlying": "NIFTY",
        "expiry": "current_week", "product": "MIS",
        "entry": {"time": "09:20:00", "days": ["WED"]}, "exit": {"time": "15:15:00"},
        "allocations": [{"account_id": rig.zerodha["id"], "multiplier": 1}],
        "legs": [
            {"side": side, "option_type": kind, "strike": {"method": "ATM_OFFSET", "value": offset},
             "lots": lots}
            for side, kind, offset in legs
        ],
    }  # fmt: skip
    created = rig.api.call("POST", "/strategies", body)
    assert created.status_code == 201, created.body
    rig.strategy_id = created.data["id"]
    return rig.strategy_id


def _plan(rig: Rig, clock: ShiftedClock, slot: datetime) -> Any:
    clock.set(slot - timedelta(seconds=20))
    [planned] = [e for e in rig.container.planner.plan(slot).executions if e.uid == rig.uid]
    return planned


def _fire(rig: Rig, clock: ShiftedClock, slot: datetime, orders: list[Any]) -> dict[str, int]:
    clock.set(slot - timedelta(milliseconds=30))
    return rig.container.firer.fire(orders)


def _enter(rig: Rig, clock: ShiftedClock) -> Any:
    entry = _plan(rig, clock, ENTRY)
    assert entry.errors == [] and entry.orders
    assert _fire(rig, clock, ENTRY, entry.orders)["sent"] == len(entry.orders)
    assert rig.container.settlement.settle(rig.uid, entry.execution_sk).status == "COMPLETE"
    return entry


def _broker_positions(rig: Rig) -> dict[str, int]:
    account = rig.zerodha["client_id"]
    return {
        canonical_symbol(p.key): p.quantity for p in rig.exchange.positions(account) if p.quantity
    }


def _platform_positions(rig: Rig) -> dict[str, int]:
    return {
        symbol: quantity
        for (account_id, symbol), quantity in rig.positions().items()
        if account_id == rig.zerodha["id"] and quantity
    }


def _broker_orders(rig: Rig) -> list[Any]:
    return rig.exchange.orders(rig.zerodha["client_id"])


def _assert_sent_once(rig: Rig, expected: int) -> None:
    orders = _broker_orders(rig)
    tags = Counter(o.tag for o in orders)
    assert all(count == 1 for count in tags.values()), tags
    assert len(orders) == expected, [(o.tag, o.side, o.quantity) for o in orders]


def _drive(rig: Rig) -> dict[str, int]:
    """One driver cycle, counted for this rig's user only (the table is shared by the tests)."""
    mine = [o for o in driver.drive(rig.container)["operations"] if o["user"] == rig.uid]
    return {
        "passes": sum(o["ran"] for o in mine),
        "engaging": sum(o["status"] == "ENGAGING" for o in mine),
        "flat": sum(o["status"] == "FLAT" for o in mine),
        "alerts": sum(o["alert"] for o in mine),
    }


def _kill(rig: Rig, body: dict[str, Any]) -> Any:
    engaged = rig.api.call("POST", "/kill-switch", body)
    assert engaged.status_code == 202, engaged.body
    return engaged.data


# -- kill switch, then the planned exit ------------------------------------------------------
def test_kill_switch_before_the_planned_exit_ends_flat(rig: Rig, clock: ShiftedClock):
    """Reproduction 1: a long straddle squared off by the kill switch; the exit built before T
    must not sell again (it used to: a naked short straddle, both executions COMPLETE)."""
    _strategy(rig, [("BUY", "CE", 0), ("BUY", "PE", 0)])
    _enter(rig, clock)
    lot = rig.contracts(1)[0].lot_size
    assert sorted(_platform_positions(rig).values()) == [lot, lot]
    exit_plan = _plan(rig, clock, EXIT)  # built at T-20 s from the positions: two SELLs
    assert sorted(o.request["side"] for o in exit_plan.orders) == ["SELL", "SELL"]

    _advance(clock, 5)
    operation = _kill(rig, {"scope": "strategy", "id": rig.strategy_id, "reason": "drill"})
    assert operation["status"] == "FLAT" and operation["joined"] is False
    assert sorted(s["side"] for s in operation["summary"]["square_off"]) == ["SELL", "SELL"]
    assert _platform_positions(rig) == {} == _broker_positions(rig)

    counts = _fire(rig, clock, EXIT, exit_plan.orders)
    assert counts["sent"] == 0
    stored = rig.container.executions.orders_of_execution(rig.uid, exit_plan.execution_sk)
    assert {o.status for o in stored} == {"CANCELLED"}
    assert {o.error["code"] for o in stored} == {"already_closed"}
    assert _platform_positions(rig) == {} == _broker_positions(rig)
    _assert_sent_once(rig, expected=4)  # two entry BUYs, two kill-switch SELLs, no exit
    [listed] = rig.api.call("GET", "/kill-switch").data["items"]
    assert listed["operation_id"] == operation["operation_id"] and listed["status"] == "FLAT"


def test_an_exit_without_risk_rules_closes_only_what_is_left(rig: Rig, clock: ShiftedClock):
    """The exit trims to the positions at T for every strategy, not only those with a risk book:
    a leg closed after the exit was planned is not closed again, the other leg still is."""
    _strategy(rig, [("BUY", "CE", 0), ("BUY", "PE", 0)])
    _enter(rig, clock)
    exit_plan = _plan(rig, clock, EXIT)
    c = rig.container
    closer = c.closer
    [position] = [
        p for p in c.executions.positions(rig.uid, rig.strategy_id) if p.symbol.endswith("-CE")
    ]
    children, _ = closer.exit_orders(rig.uid, rig.strategy_id)
    by_hand = [ch for ch in children if canonical_symbol(ch.key) == position.symbol]
    execution = c.executions.open_execution(
        rig.uid, DAY.date().isoformat(), rig.strategy_id, "MANUAL", clock().isoformat(), "test"
    )
    assert execution is not None
    sent = closer.send_closing(rig.uid, execution.sk, rig.strategy_id, by_hand, phase="MANUAL")
    c.settlement.settle(rig.uid, execution.sk, orders=sent)
    assert len(_platform_positions(rig)) == 1

    assert _fire(rig, clock, EXIT, exit_plan.orders)["sent"] == 1
    c.settlement.settle(rig.uid, exit_plan.execution_sk)
    assert _platform_positions(rig) == {} == _broker_positions(rig)
    _assert_sent_once(rig, expected=4)  # two entries, the CE closed by hand, the PE exit


# -- two kill switches at once ----------------------------------------------------------------
def test_two_concurrent_kill_switches_join_one_operation_and_end_flat(
    rig: Rig, clock: ShiftedClock
):
    """Reproduction 2: two concurrent POSTs on one strategy each squared off (a -65/+65 spread
    became +65/-65). Now the second joins the first's operation."""
    _strategy(rig, [("SELL", "CE", 0), ("BUY", "CE", 4)])
    _enter(rig, clock)
    clock.set(DAY.replace(hour=11))
    barrier = threading.Barrier(2)
    answers: list[Any] = []

    def press() -> None:
        barrier.wait()
        answers.append(_kill(rig, {"scope": "strategy", "id": rig.strategy_id}))

    threads = [threading.Thread(target=press) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == 2
    assert len({a["operation_id"] for a in answers}) == 1
    assert sorted(a["joined"] for a in answers) == [False, True]
    [listed] = rig.api.call("GET", "/kill-switch").data["items"]
    assert listed["status"] == "FLAT" and len(listed["summary"]["square_off"]) == 2
    assert _platform_positions(rig) == {} == _broker_positions(rig)
    _assert_sent_once(rig, expected=4)


def test_overlapping_scopes_at_once_close_each_position_once(rig: Rig, clock: ShiftedClock):
    """An account switch and a strategy switch at the same moment are two operations; the close
    lease and the consistent re-read make the second find the positions already flat."""
    _strategy(rig, [("SELL", "CE", 0), ("BUY", "CE", 4)])
    _enter(rig, clock)
    clock.set(DAY.replace(hour=11))
    switch = rig.container.kill_switch
    barrier = threading.Barrier(2)
    results: list[Any] = []

    def press(scope: str, target: str) -> None:
        item, _ = switch.engage(rig.uid, scope, target, who="test")
        barrier.wait()
        results.append(switch.drive(item))

    threads = [
        threading.Thread(target=press, args=("strategy", rig.strategy_id)),
        threading.Thread(target=press, args=("account", rig.zerodha["id"])),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for _ in range(5):  # whichever pass found the lease busy finishes on the driver's next pass
        if all(i.status == "FLAT" for i in switch.active(rig.uid)):
            break
        _advance(clock, 30)
        _drive(rig)
    assert {i.status for i in switch.active(rig.uid)} == {"FLAT"}
    sent = sum(len(i.summary["square_off"]) for i in switch.active(rig.uid))
    assert sent == 2
    assert _platform_positions(rig) == {} == _broker_positions(rig)
    _assert_sent_once(rig, expected=4)


def test_concurrent_engages_create_exactly_one_operation(rig: Rig, clock: ShiftedClock):
    _strategy(rig, [("SELL", "CE", 0)])
    switch = rig.container.kill_switch
    barrier = threading.Barrier(6)
    created: list[bool] = []

    def engage() -> None:
        barrier.wait()
        created.append(switch.engage(rig.uid, "strategy", rig.strategy_id, who="test")[1])

    threads = [threading.Thread(target=engage) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(created) == [False] * 5 + [True]
    switch.release(rig.uid, "strategy", rig.strategy_id)


# -- a broker outage during the kill switch ---------------------------------------------------
def test_kill_switch_through_a_broker_outage_ends_flat_once_the_broker_is_back(
    rig: Rig, clock: ShiftedClock
):
    """Reproduction 10: during an outage it answered 200 with nothing squared off and never
    retried. Now: 202 ENGAGING, nothing claimed as done, retried by the driver with backoff, an
    alert after a few passes, and flat once the broker answers again."""
    _strategy(rig, [("BUY", "CE", 0), ("BUY", "PE", 0)])
    _enter(rig, clock)
    held = _platform_positions(rig)
    clock.set(DAY.replace(hour=12))
    kite = rig.server("zerodha")
    kite.inject(rig.zerodha["client_id"], "server_error", count=100_000, status=503)

    operation = _kill(rig, {"scope": "all"})
    assert operation["status"] == "ENGAGING" and operation["summary"]["square_off"] == []
    assert {b["code"] for b in operation["summary"]["blocked"]} == {"broker_unavailable"}
    assert operation["flat_at"] is None and operation["next_attempt_at"] > operation["engaged_at"]
    assert _platform_positions(rig) == held

    clock.set(DAY.replace(hour=12))  # the pass's own moment: its retry is 2 s later
    assert _drive(rig)["passes"] == 0  # not due yet: backoff
    alerts = 0
    for _ in range(3):
        _advance(clock, 61)
        figures = _drive(rig)
        assert figures["passes"] == 1 and figures["engaging"] == 1
        alerts += figures["alerts"]
    assert alerts == 1  # once per operation, not once per pass
    [listed] = rig.api.call("GET", "/kill-switch").data["items"]
    assert listed["status"] == "ENGAGING" and listed["attempts"] == 4
    assert [e["code"] for e in listed["events"] if e["kind"] == "alert"] == ["kill_switch_stalled"]
    assert _platform_positions(rig) == held and _broker_positions(rig) == held

    kite.faults.clear()
    _advance(clock, 61)
    assert _drive(rig)["flat"] == 1
    [listed] = rig.api.call("GET", "/kill-switch").data["items"]
    assert listed["status"] == "FLAT" and len(listed["summary"]["square_off"]) == 2
    assert listed["summary"]["blocked"] == [] and listed["summary"]["open"] == []
    assert _platform_positions(rig) == {} == _broker_positions(rig)
    _assert_sent_once(rig, expected=4)
    _advance(clock, 61)
    assert _drive(rig)["passes"] == 0  # flat: off the driver's index


# -- a square-off that does not fill ---------------------------------------------------------
def test_a_square_off_left_resting_is_cancelled_and_the_rest_closed_next_pass(
    rig: Rig, clock: ShiftedClock
):
    """A pass never reports FLAT while its own order rests; the next pass cancels it, counts
    its partial fill and closes only the remainder (never the whole position again)."""
    _strategy(rig, [("SELL", "CE", 0)], lots=2)
    _enter(rig, clock)
    lot = rig.contracts(1)[0].lot_size
    assert list(_platform_positions(rig).values()) == [-2 * lot]
    clock.set(DAY.replace(hour=13))
    rig.server("zerodha").inject(rig.zerodha["client_id"], "partial_fill", hold=3600)

    operation = _kill(rig, {"scope": "strategy", "id": rig.strategy_id})
    assert operation["status"] == "ENGAGING"
    [first] = operation["summary"]["square_off"]
    assert (first["side"], first["quantity"], first["filled_quantity"]) == ("BUY", 2 * lot, lot)
    assert {b["code"] for b in operation["summary"]["blocked"]} == {"in_flight"}

    _advance(clock, 61)
    assert _drive(rig)["flat"] == 1
    [listed] = rig.api.call("GET", "/kill-switch").data["items"]
    assert listed["status"] == "FLAT" and first["order_id"] in listed["summary"]["cancelled"]
    second = listed["summary"]["square_off"][1]
    assert (second["side"], second["quantity"], second["status"]) == ("BUY", lot, "COMPLETE")
    assert _platform_positions(rig) == {} == _broker_positions(rig)
    _assert_sent_once(rig, expected=3)  # the entry, the partly filled BUY, the remainder


# -- entries built before the switch ----------------------------------------------------------
def test_an_entry_built_before_the_kill_switch_is_never_sent(rig: Rig, clock: ShiftedClock):
    _strategy(rig, [("SELL", "CE", 0)])
    entry = _plan(rig, clock, ENTRY)
    assert {o.status for o in entry.orders} == {"BUILT"}
    _advance(clock, 10)
    operation = _kill(rig, {"scope": "all"})
    assert operation["status"] == "FLAT" and operation["summary"]["square_off"] == []
    assert len(operation["summary"]["withdrawn"]) == len(entry.orders)
    counts = _fire(rig, clock, ENTRY, entry.orders)
    assert counts["sent"] == 0 and counts["skipped"] == len(entry.orders)
    assert _broker_orders(rig) == []


# -- the lease itself -------------------------------------------------------------------------
def test_the_close_lease_is_exclusive_reentrant_and_expires(container, clock: ShiftedClock):
    leases = Leases(LeaseRepository(), clock)
    args = ("u-lease", "s1", "a1")
    assert leases.acquire(*args, owner="kill:1", ttl=10)
    assert not leases.acquire(*args, owner="exit:1", ttl=10)
    assert leases.acquire(*args, owner="kill:1", ttl=10)  # the holder renews
    assert not leases.release(*args, owner="exit:1")  # only the holder releases
    assert leases.acquire("u-lease", "s1", "a2", owner="exit:1", ttl=10)  # another account
    _advance(clock, 11)
    assert leases.acquire(*args, owner="exit:1", ttl=10)  # expired: taken over
    assert not leases.release(*args, owner="kill:1")  # the old holder cannot free it
    assert leases.release(*args, owner="exit:1")
    with leases.held(*args, owner="risk:1") as taken:
        assert taken and not leases.acquire(*args, owner="kill:2")
    assert leases.acquire(*args, owner="kill:2")
