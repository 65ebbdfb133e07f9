"""Arming: the book is sized from what the entry filled, its stops go to the broker once."""

from __future__ import annotations

from decimal import Decimal

from chalicelib.ports.broker import OrderType
from tests.unit.engine.risk_world import LOT, UID, World, leg

D = Decimal
STOP_20 = {"stop_loss": {"type": "POINTS", "value": "20"}}


def test_arming_places_one_stop_per_filled_leg_at_the_broker() -> None:
    world = World([leg("SELL", **STOP_20)])

    book = world.arm()

    assert book is not None
    [guard] = world.guards()
    assert (guard["state"], guard["quantity"], guard["stop"]) == ("ARMED", LOT, "120.00")
    [stop] = world.stops()
    assert stop.request.order_type is OrderType.SL_LIMIT
    assert (stop.request.side.value, stop.request.quantity) == ("BUY", LOT)
    assert stop.request.trigger == D("120.00")
    assert guard["stop_orders"] == [o.order_id for o in world.store.all_orders("STOP")]
    assert world.store.all_orders("STOP")[0].status == "OPEN"
    assert world.events()[:2] == ["risk_armed", "stop_placed"]


def test_arming_twice_keeps_the_first_book_and_sends_nothing_more() -> None:
    world = World([leg("SELL", **STOP_20)])
    first = world.arm()

    again = world.new_engine().arm(UID, first.execution)

    assert again is not None and again.version == world.book().version
    assert len(world.stops()) == 1
    assert world.events().count("risk_armed") == 1


def test_a_leg_without_rules_gets_no_guard() -> None:
    world = World([leg("SELL"), leg("BUY", strike="24500")], mtm_stop_loss=None)

    assert world.arm() is None
    assert world.book() is None
    assert world.broker.calls == []


def test_a_partly_filled_entry_is_guarded_for_what_filled_and_grows_with_later_fills() -> None:
    world = World([leg("SELL", **STOP_20)], fills=[("100", LOT)], lots=2)
    world.arm()
    [guard] = world.guards()
    assert guard["quantity"] == LOT
    [first] = world.stops()
    assert first.request.quantity == LOT

    # The resting entry fills the rest at the broker: the guard grows, the stop is replaced
    # (cancelled first, then placed anew for the whole quantity): never two stops resting.
    world.broker.fill("X0", 2 * LOT, D("100"))
    world.cycle()  # grows the guard, asks for the cancel
    world.cycle()  # the cancel is confirmed: the stop is placed for the new quantity

    [guard] = world.guards()
    assert guard["quantity"] == 2 * LOT
    live = [o for o in world.stops() if not o.status.terminal]
    assert [o.request.quantity for o in live] == [2 * LOT]
    assert first.status.value == "CANCELLED"
    assert "fill_guarded" in world.events()
