"""Which accounts the firer sends on prepared wire lanes, and how a lane's outcomes are recorded
(``services/fire_wire.py`` through the ``WireSender`` port's fake)."""

from __future__ import annotations

from datetime import timedelta

from chalicelib.domain import order_lifecycle as lc
from chalicelib.ports.broker_errors import Unavailable
from tests.fakes.firing import FakeWireSender
from tests.unit.engine.firing_rig import Rig, T


def test_entries_go_out_on_the_lane_and_are_recorded_from_its_outcomes():
    rig, wire = Rig(), FakeWireSender()
    orders = rig.orders(("a1", 0, "SELL", "E0"), ("a1", 1, "BUY", "E1"))
    counts = rig.firer(wire=wire).fire(orders)
    assert counts == {"sent": 2, "failed": 0, "skipped": 0}
    assert [r.tag for r in wire.ran[0].requests] == ["E1", "E0"]  # hedges first on the lane too
    assert rig.placed() == ["E1", "E0"]
    for order in orders:
        stored = rig.store.stored(order)
        assert stored.status == lc.OPEN and stored.sent_at >= T.isoformat()


def test_an_adapter_the_sender_cannot_serve_takes_the_threaded_path():
    rig, wire = Rig(), FakeWireSender(refuse={"a1"})
    first, second = rig.orders(("a1", 0, "BUY", "E0"), ("a2", 0, "BUY", "F0"))
    assert rig.firer(wire=wire).fire([first, second])["sent"] == 2
    assert [lane.adapter.name for lane in wire.ran] == ["a2"]
    assert sorted(rig.placed()) == ["E0", "F0"]


def test_closing_orders_under_a_before_send_hook_never_take_a_lane():
    """An exit's trim reads what is held at T: only the threaded path runs the hook per order."""
    rig, wire = Rig(phase="EXIT"), FakeWireSender()
    orders = rig.orders(("a1", 0, "SELL", "X0"))
    seen: list[str] = []

    def hook(kept, requests, adapter):
        seen.extend(o.tag for o in kept)
        return kept, requests

    assert rig.firer(wire=wire, before_send=hook).fire(orders)["sent"] == 1
    assert wire.opened == [] and seen == ["X0"] and rig.placed() == ["X0"]


def test_an_entry_lane_the_hook_changes_is_sent_the_threaded_way():
    rig, wire = Rig(), FakeWireSender()
    keep, drop = rig.orders(("a1", 0, "BUY", "E0"), ("a1", 1, "BUY", "E1"))

    def hook(orders, requests, adapter):
        return orders[:1], requests[:1]

    rig.firer(wire=wire, before_send=hook).fire([keep, drop])
    assert len(wire.opened) == 1 and wire.ran == []  # opened before T, not run at T
    assert rig.placed() == ["E0"]
    assert rig.status(keep) == lc.OPEN and rig.status(drop) == lc.CLAIMED


def test_orders_a_lane_left_unsent_go_out_the_ordinary_way_once():
    rig, wire = Rig(), FakeWireSender(leave_unsent={"E1"})
    orders = rig.orders(*[("a1", leg, "BUY", f"E{leg}") for leg in range(3)])
    counts = rig.firer(wire=wire).fire(orders)
    assert counts["sent"] == 3
    assert rig.placed() == ["E0", "E1", "E2"]  # each once, in the account's order


def test_a_lane_past_an_entrys_delay_records_it_missed():
    rig, wire = Rig(start=T + timedelta(seconds=45)), FakeWireSender()
    [late] = rig.orders(("a1", 0, "BUY", "E0"), max_delay=30)
    counts = rig.firer(wire=wire).fire([late])
    assert counts["missed"] == 1 and rig.placed() == [] and rig.status(late) == lc.MISSED
    assert [e["code"] for e in rig.events()] == ["entry_missed"]


def test_a_lane_reply_that_never_came_is_unknown_and_one_refused_before_leaving_is_failed():
    rig, wire = Rig(), FakeWireSender()
    lost, refused = rig.orders(("a1", 0, "BUY", "E0"), ("a1", 1, "BUY", "E1"))
    rig.brokers["a1"].errors.update(
        E0=Unavailable("no reply", sent=True), E1=Unavailable("refused", sent=False)
    )
    counts = rig.firer(wire=wire).fire([lost, refused])
    assert counts == {"sent": 0, "failed": 1, "skipped": 0, "unknown": 1}
    assert rig.status(lost) == lc.UNKNOWN and rig.store.stored(lost).sent_at is not None
    assert rig.status(refused) == lc.FAILED and rig.store.stored(refused).sent_at is None


def test_an_account_with_a_broken_request_never_takes_a_lane():
    rig, wire = Rig(), FakeWireSender()
    bad, good = rig.orders(("a1", 0, "BUY", "E0"), ("a1", 1, "BUY", "E1"))
    bad.request = {**bad.request, "quantity": 64}
    rig.store.put_orders([bad])
    counts = rig.firer(wire=wire).fire([bad, good])
    assert wire.opened == [] and counts == {"sent": 1, "failed": 1, "skipped": 0}
