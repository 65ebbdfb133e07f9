"""The kill switch over the real settlement and closer (the in-memory settlement world of
``settling.py``): what a pass settles before it closes, and that it closes exactly what the
fills left held, whatever the broker did with the square-off."""

from __future__ import annotations

from typing import Any

from chalicelib.domain import order_lifecycle as lc
from chalicelib.domain.kill_switch import ENGAGING, FLAT
from chalicelib.ports.broker import OrderStatus, Side
from chalicelib.services.kill_switch import KillSwitch
from chalicelib.services.leases import Leases
from tests.fakes.executions import InMemoryExecutions
from tests.fakes.kill_switch import FakeKillSwitchStore, FakeTargets
from tests.fakes.leases import FakeLeaseStore
from tests.unit.engine.settling import CE, LOT, STRATEGY, UID, World


class KillSwitchExecutions(InMemoryExecutions):
    """The execution store with the kill switch's own transition (``withdraw_unsent``: BUILT ->
    CANCELLED, refused once a firer claimed the order), as ``claim_transitions`` has it."""

    def withdraw_unsent(self, order: Any, code: str, message: str, *, at: str) -> bool:
        changes = {"status": lc.CANCELLED, "error": {"code": code, "message": message},
                   "history": [*(order.history or []), {"at": at, "status": lc.CANCELLED,
                                                        "message": message}]}  # fmt: skip
        return self._transition(
            "withdraw_unsent", order, changes, lambda o: o.status == lc.BUILT,
            lambda o: o.status == lc.CANCELLED and (o.error or {}).get("code") == code,
        )  # fmt: skip


def switch_in(world: World) -> KillSwitch:
    targets = FakeTargets()
    targets.add_strategy(UID, STRATEGY)
    store = FakeKillSwitchStore()
    settlement = world.settlement(fail_closing=True)
    leases = Leases(FakeLeaseStore(), world.clock)
    return KillSwitch(store, targets, world.store, settlement, world.clock, leases)


def world() -> World:
    return World(store=KillSwitchExecutions())


def test_an_entry_filled_at_the_broker_is_settled_first_then_closed_exactly():
    w = world()
    w.execution()
    entry = w.order("e1", lots=2, broker_order_id="B-e1")  # OPEN: acknowledged, not settled
    w.placed_at_broker(entry)
    w.brokers["A1"].fill("B-e1", 2 * LOT, "100")
    switch = switch_in(w)
    item, _ = switch.engage(UID, "strategy", STRATEGY, who=UID)
    drive = switch.drive(item)
    assert w.stored(entry).status == lc.COMPLETE  # settled by the pass, its fill applied
    bought = [r for r in w.brokers["A1"].placed if r.side.value == "BUY"]
    assert sum(r.quantity for r in bought) == 2 * LOT
    assert w.net(CE) == 0 and drive.item.status == FLAT


def held(w: World, lots: int) -> None:
    """A settled entry: the fills of a short of ``lots`` lots reached the position."""
    w.execution()
    entry = w.order("e1", lots=lots, broker_order_id="B-e1")
    w.placed_at_broker(entry)
    w.brokers["A1"].fill("B-e1", lots * LOT, "100")
    w.settlement().settle(UID, entry.execution)
    assert w.net(CE) == -lots * LOT


def test_a_resting_square_off_is_cancelled_and_only_the_rest_is_closed_next_pass():
    w = world()
    held(w, 2)
    w.brokers["A1"].fill_on_place = False
    switch = switch_in(w)
    item, _ = switch.engage(UID, "all", None, who=UID)
    first = switch.drive(item)
    assert first.item.status == ENGAGING
    (resting,) = [r for r in w.brokers["A1"].placed if r.side.value == "BUY"]
    resting_id = next(i for i, s in w.brokers["A1"].book.items() if s.tag == resting.tag)
    w.brokers["A1"].fill(resting_id, LOT, "101")  # half of it fills, the rest rests
    w.brokers["A1"].fill_on_place = True
    w.clock.advance(2)
    (second,) = switch.drive_due()
    buys = [r for r in w.brokers["A1"].placed if r.side.value == "BUY"]
    assert [r.quantity for r in buys] == [2 * LOT, LOT]  # the remainder only
    assert resting_id in w.brokers["A1"].cancelled
    assert w.net(CE) == 0 and second.item.status == FLAT


def test_a_broker_that_does_not_answer_leaves_the_operation_engaging():
    w = world()
    held(w, 1)
    w.brokers["A1"].down = True
    switch = switch_in(w)
    item, _ = switch.engage(UID, "all", None, who=UID)
    drive = switch.drive(item)
    assert drive.item.status == ENGAGING and w.brokers["A1"].placed == []
    assert w.net(CE) == -LOT


def test_an_exit_recorded_never_sent_that_the_broker_filled_is_adopted_not_closed_twice():
    w = world()
    held(w, 1)
    w.execution("EXIT")
    exit_ = w.order("x1", side="BUY", phase="EXIT", status=lc.FAILED)
    w.brokers["A1"].add(exit_.tag, LOT, side=Side.BUY, status=OrderStatus.COMPLETE, filled=LOT,
                        price="101")  # fmt: skip
    switch = switch_in(w)
    item, _ = switch.engage(UID, "strategy", STRATEGY, who=UID)
    drive = switch.drive(item)
    assert w.stored(exit_).status == lc.COMPLETE and w.stored(exit_).broker_order_id
    assert w.net(CE) == 0 and drive.item.status == FLAT
    assert w.brokers["A1"].placed == []  # nothing squared off: the exit had closed it


def test_an_entry_built_before_the_switch_never_leaves():
    w = world()
    w.execution()
    entry = w.order("e1", status=lc.BUILT)
    switch = switch_in(w)
    item, _ = switch.engage(UID, "all", None, who=UID)
    drive = switch.drive(item)
    assert w.stored(entry).status == lc.CANCELLED and drive.item.summary["withdrawn"] == ["e1"]
    assert drive.item.status == FLAT
