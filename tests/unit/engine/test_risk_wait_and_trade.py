"""Wait and trade in the monitor: a waiting leg enters through the re-entry send path once its
premium reaches the trigger, or is skipped at its deadline under the leg-failure policy."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from tests.unit.engine.risk_world import LOT, World, leg, request

D = Decimal
STOP_20 = {"stop_loss": {"type": "POINTS", "value": "20"}}
WAIT_UP_10 = {"direction": "UP", "type": "POINTS", "value": "10", "until": "10:30:00"}


def waiting_world(**risk: object) -> World:
    """Leg 0 entered at 100 with its stop; leg 1 waits for its premium to rise 10 points."""
    world = World(
        [leg("SELL", **STOP_20), leg("SELL", strike="24500", **STOP_20, wait_and_trade=WAIT_UP_10)],
        waiting=frozenset({1}),
        **risk,
    )
    world.arm()
    # The leg's strike resolved at the entry time with a premium of 100: its reference.
    book = world.book()
    pending = book.guards[1]
    contract = {**request(1, world.legs[1], "0", "x"), "broker_symbol": ""}
    pending.update(contract=contract, symbol="NIFTY-2026-12-01-24500-CE", quantity=LOT,
                   reference="100", wait_trigger="110", entry_price="100", best="100")  # fmt: skip
    assert world.books.save(book)
    return world


def test_the_waiting_leg_enters_once_its_trigger_is_reached_and_is_guarded() -> None:
    world = waiting_world()
    world.broker.fill_limits = True
    world.later(1)
    world.price(1, "105")
    world.cycle()
    assert world.guards()[1]["state"] == "PENDING"  # not yet

    world.later(1)
    world.price(1, "110")
    world.cycle()

    states = [(g["leg"], g["cycle"], g["state"]) for g in world.guards()]
    assert states == [(0, 0, "ARMED"), (1, 0, "DONE"), (1, 1, "ARMED")]
    entered = world.guards()[2]
    assert entered["re_entries"] == 0  # an entry, not a re-entry
    assert D(entered["stop"]) == D(entered["entry_price"]) + 20
    assert world.events().count("wait_and_trade_reached") == 1
    assert "wait_and_trade_entered" in world.events()
    assert len([o for o in world.stops() if not o.status.terminal]) == 2
    assert world.net() == -2 * LOT


def test_a_kill_switch_withdraws_the_waiting_leg_instead_of_entering() -> None:
    world = waiting_world()
    world.engine.entry_block = lambda uid, strategy, account: "kill switch engaged"
    world.later(1)
    world.price(1, "110")

    world.cycle()

    assert world.guards()[1]["state"] == "DONE"
    assert "wait_and_trade_refused" in world.events()
    assert world.net() == -LOT


def test_at_its_deadline_the_leg_is_skipped_and_unwind_closes_the_strategy() -> None:
    world = waiting_world(on_leg_failure="UNWIND")
    world.broker.fill_limits = True
    world.now = world.now.replace(hour=10, minute=30) + timedelta(seconds=1)

    world.cycle()  # skipped, and the strategy's exit decided (the other leg starts exiting)
    guards = world.guards()
    assert (guards[1]["state"], guards[1]["reason"]) == ("DONE", "LEG_SKIPPED")
    assert (guards[0]["state"], guards[0]["reason"]) == ("EXITING", "LEG_SKIPPED")
    world.later(1)
    world.cycle()  # its stop cancelled, what it holds closed

    assert world.guards()[0]["state"] == "DONE"
    assert "wait_and_trade_unwind" in world.events()
    assert world.net() == 0


def test_keep_alerts_and_keeps_the_other_legs() -> None:
    world = waiting_world(on_leg_failure="KEEP")
    world.now = world.now.replace(hour=10, minute=30) + timedelta(seconds=1)

    world.cycle()

    assert [g["state"] for g in world.guards()] == ["ARMED", "DONE"]
    assert "wait_and_trade_skipped" in world.events()
    assert world.net() == -LOT
