"""Re-entries after a stop, and freezing a book for the exit at T or a kill switch."""

from __future__ import annotations

from decimal import Decimal

from chalicelib.domain.risk_book import LIVE
from chalicelib.domain.strategy import ExitReason
from tests.unit.engine.risk_world import ACCOUNT, DAY, LOT, STRATEGY, UID, World, leg

D = Decimal
STOP_20 = {"stop_loss": {"type": "POINTS", "value": "20"}}


def re_entry(mode: str, count: int = 1) -> dict:
    return {"re_entry": {"mode": mode, "max_count": count, "on": ["STOP_LOSS"]}}


def stopped_out(world: World, price: str = "120.50") -> None:
    [stop] = [o for o in world.stops() if not o.status.terminal]
    world.broker.fill(stop.order_id, LOT, D(price))
    world.price(0, price)
    world.cycle()


def test_re_asap_enters_again_and_the_new_cycle_gets_its_own_stop() -> None:
    world = World([leg("SELL", **STOP_20, **re_entry("RE_ASAP"))])
    world.arm()
    world.broker.fill_limits = True

    stopped_out(world)

    first, second = world.guards()
    assert (first["state"], first["reason"]) == ("DONE", "STOP_LOSS")
    assert (second["cycle"], second["re_entries"], second["state"]) == (1, 1, "ARMED")
    [entered] = [o for o in world.closes() if o.order_id != "X0" and o.request.side.value == "SELL"]
    assert D(second["entry_price"]) == entered.average  # what the re-entry filled at
    assert D(second["stop"]) == entered.average + 20
    live = [o for o in world.stops() if not o.status.terminal]
    assert [(o.request.quantity, o.request.trigger) for o in live] == [(LOT, D(second["stop"]))]
    assert world.net() == -LOT  # short again, once
    assert "re_entered" in world.events()


def test_re_cost_waits_for_the_premium_to_come_back_and_respects_the_count() -> None:
    world = World([leg("SELL", **STOP_20, **re_entry("RE_COST"))])
    world.arm()
    world.broker.fill_limits = True

    stopped_out(world)
    assert world.guards()[0]["state"] == "WAITING"
    world.later(1)
    world.price(0, "110")
    world.cycle()
    assert len(world.guards()) == 1  # not back at cost yet: nothing sent

    world.later(1)
    world.price(0, "100")
    world.cycle()
    assert [g["state"] for g in world.guards()] == ["DONE", "ARMED"]

    world.later(1)
    stopped_out(world, "120.50")  # stopped again: the one re-entry is used up
    assert [g["state"] for g in world.guards()] == ["DONE", "DONE"]
    assert world.net() == 0


def test_a_kill_switch_refuses_the_re_entry() -> None:
    world = World([leg("SELL", **STOP_20, **re_entry("RE_ASAP"))])
    world.arm()
    world.engine.entry_block = lambda uid, strategy, account: "kill switch engaged"

    stopped_out(world)

    assert [g["state"] for g in world.guards()] == ["DONE"]
    assert "re_entry_refused" in world.events()
    assert world.net() == 0


def test_a_re_entry_that_loses_its_claim_sends_nothing_and_stays_waiting() -> None:
    world = World([leg("SELL", **STOP_20, **re_entry("RE_COST"))])
    world.arm()
    stopped_out(world)
    placed = len(world.broker.calls)

    def another_writer(book) -> None:
        assert world.books.save(book)

    world.books.before_save = another_writer
    world.later(1)
    world.price(0, "100")
    world.cycle()

    assert len(world.broker.calls) == placed
    assert world.guards()[0]["state"] == "WAITING"


def test_freezing_for_the_exit_cancels_the_stops_and_says_what_is_held() -> None:
    world = World([leg("SELL", **STOP_20)])
    world.arm()
    [stop] = world.stops()

    held = world.engine.freeze_for_exit(UID, ACCOUNT, [STRATEGY], world.now.date())

    assert stop.status.value == "CANCELLED"
    [guard] = world.guards()
    assert (guard["state"], guard["reason"]) == ("DONE", "EXIT_TIME")
    assert world.book().status == LIVE  # one account's guards: the book ends at the exit time
    assert held == {STRATEGY: {p.symbol: -LOT for p in world.store.positions(UID, STRATEGY)}}
    world.later(1)
    world.cycle()  # a frozen book is not the monitor's any more
    assert [kind for kind, _ in world.broker.calls] == ["place", "cancel"]


def test_a_stop_whose_cancel_is_not_confirmed_stays_with_the_monitor() -> None:
    world = World([leg("SELL", **STOP_20)])
    world.arm()
    world.broker.defer_cancels = True

    held = world.engine.freeze_for_exit(UID, ACCOUNT, [STRATEGY], world.now.date())

    book = world.book()
    assert book.status == LIVE
    assert (book.guards[0]["state"], book.guards[0]["reason"]) == ("EXITING", "EXIT_TIME")
    assert held == {STRATEGY: {book.guards[0]["symbol"]: 0}}  # the exit leaves its units alone

    world.broker.confirm_cancels()
    world.broker.fill_limits = True
    world.later(1)
    world.cycle()
    assert world.guards()[0]["state"] == "DONE"
    assert world.net() == 0


def test_a_kill_switch_freeze_of_one_account_leaves_no_live_guard_there() -> None:
    world = World([leg("SELL", **STOP_20)])
    world.arm()

    book = world.engine.freeze(UID, DAY, STRATEGY, ExitReason.KILL_SWITCH, ACCOUNT)

    assert book is not None
    assert [g["state"] for g in world.guards()] == ["DONE"]
    assert all(o.status.terminal for o in world.stops())
