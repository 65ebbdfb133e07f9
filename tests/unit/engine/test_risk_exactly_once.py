"""Exactly once: a lost claim sends nothing, a crashed send is resolved by tag, never doubled."""

from __future__ import annotations

import pytest

from chalicelib.domain.risk_book import never_sent
from tests.unit.engine.risk_world import UID, Crash, World, leg

STOP_20 = {"stop_loss": {"type": "POINTS", "value": "20"}}


def test_a_claim_lost_to_another_writer_sends_nothing_and_abandons_the_intent() -> None:
    world = World([leg("SELL", **STOP_20)])

    def another_writer(book) -> None:  # e.g. a kill switch's freeze, a second monitor
        book.mtm = {**(book.mtm or {}), "touched": True}
        assert world.books.save(book)

    world.books.before_save = another_writer
    world.arm()

    assert world.broker.calls == []  # nothing reached the broker
    [intent] = world.store.all_orders("STOP")
    assert never_sent(intent)
    assert world.guards()[0]["stop_orders"] == []

    world.cycle()  # the next pass decides afresh from the book as it is now

    assert len(world.stops()) == 1
    assert world.guards()[0]["stop_orders"] == [
        o.order_id for o in world.store.all_orders("STOP") if not never_sent(o)
    ]


def test_two_monitors_on_one_book_place_one_stop() -> None:
    world = World([leg("SELL", **STOP_20)])
    world.arm()
    # Both monitors see a stop lost at the broker; the second writes first.
    [stop] = world.stops()
    world.broker.book[stop.order_id].status = stop.status.CANCELLED
    second = world.new_engine()
    world.books.before_save = lambda _book: second.cycle(world.now)

    world.cycle()

    live = [o for o in world.stops() if not o.status.terminal]
    assert len(live) == 1
    assert sum(1 for o in world.store.all_orders("STOP") if never_sent(o)) == 1


def test_a_monitor_that_died_between_claim_and_send_is_replaced_without_a_second_stop() -> None:
    world = World([leg("SELL", **STOP_20)])
    world.crash_at = "after_claim"
    with pytest.raises(Crash):
        world.arm()
    [intent] = world.store.all_orders("STOP")
    assert intent.status == "BUILT" and world.guards()[0]["stop_orders"] == [intent.order_id]
    world.crash_at = None
    world.engine = world.new_engine()  # the restarted monitor

    world.cycle()  # within the grace: its sender may still be about to send it
    assert world.stops() == []

    world.later(3)
    world.cycle()  # past the grace: abandoned, and the stop is decided afresh

    assert never_sent(world.store.stored(intent.order_id))
    [stop] = world.stops()
    assert stop.request.tag != intent.tag
    # The dead sender, were it only slow, can no longer send its copy: the claim refuses it.
    world.engine.intents.dispatch(world.broker, [intent])
    assert len(world.stops()) == 1


def test_a_stop_sent_but_never_recorded_is_found_by_its_tag_not_sent_again() -> None:
    world = World([leg("SELL", **STOP_20)])
    world.crash_at = "after_send"
    with pytest.raises(Crash):
        world.arm()
    [intent] = world.store.all_orders("STOP")
    assert (intent.status, intent.broker_order_id) == ("SENT", None)
    world.crash_at = None
    world.engine = world.new_engine()

    world.later(1)
    world.cycle()

    [stop] = world.stops()
    stored = world.store.stored(intent.order_id)
    assert (stored.broker_order_id, stored.status) == (stop.order_id, "OPEN")
    assert [kind for kind, _ in world.broker.calls] == ["place"]


def test_an_orphaned_intent_is_abandoned_after_its_tag_is_not_found() -> None:
    world = World([leg("SELL", **STOP_20)])
    world.crash_at = "before_claim"  # stored BUILT, never named in the book
    with pytest.raises(Crash):
        world.arm()
    [orphan] = world.store.all_orders("STOP")
    assert world.guards()[0]["stop_orders"] == []
    world.crash_at = None
    world.engine = world.new_engine()

    world.cycle()  # young: left alone; the guard places its own stop
    world.later(3)
    world.cycle()  # swept: not at the broker, so never to be sent

    assert never_sent(world.store.stored(orphan.order_id))
    assert len(world.stops()) == 1
    assert orphan.tag not in {o.request.tag for o in world.stops()}
    assert world.engine.resolve_orphans(UID, [world.store.stored(orphan.order_id)]) == {}
