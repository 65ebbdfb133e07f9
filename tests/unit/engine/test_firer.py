"""The firer's decisions on in-memory ports: exactly once, isolation, outcomes, staleness, order.

Each test fires stored BUILT orders at T through ``Firer`` with the fake execution store
(``tests/fakes/firing.py``, the DynamoDB store's conditions) and scripted brokers, and asserts what
reached the broker and what the store holds afterwards.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from chalicelib.domain import order_lifecycle as lc
from chalicelib.errors import DependencyUnavailable
from chalicelib.ports.broker_errors import AuthExpired, Rejected, Unavailable
from tests.unit.engine.firing_rig import Rig, T


def test_each_order_is_sent_once_and_recorded_acknowledged():
    rig = Rig()
    orders = rig.orders(("a1", 0, "BUY", "E0"), ("a1", 1, "SELL", "E1"))
    counts = rig.firer().fire(orders)
    assert counts == {"sent": 2, "failed": 0, "skipped": 0}
    assert rig.placed() == ["E0", "E1"]
    for order in orders:
        stored = rig.store.stored(order)
        assert stored.status == lc.OPEN and stored.broker_order_id
        assert stored.sent_at is not None and stored.acked_at is not None
        assert stored.sent_at >= T.isoformat()  # not before T


def test_a_second_fire_of_the_same_orders_sends_nothing():
    """A retried Lambda or a duplicated batch: the claim is already taken (exactly once)."""
    rig = Rig()
    orders = rig.orders(("a1", 0, "BUY", "E0"), ("a2", 0, "BUY", "F0"))
    rig.firer().fire(orders)
    again = rig.firer().fire(orders)
    assert again == {"sent": 0, "failed": 0, "skipped": 2}
    assert sorted(rig.placed()) == ["E0", "F0"]


def test_two_firers_racing_on_one_batch_send_each_order_once():
    rig = Rig()
    orders = rig.orders(*[("a1", leg, "BUY", f"E{leg}") for leg in range(6)])
    copies = [[rig.store.stored(o) for o in orders] for _ in range(2)]  # each loaded its own
    results: list[dict[str, int]] = []
    threads = [
        threading.Thread(target=lambda c=c: results.append(rig.firer().fire(c))) for c in copies
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(rig.placed()) == [f"E{leg}" for leg in range(6)]
    assert sum(r["sent"] for r in results) == 6 and sum(r["skipped"] for r in results) == 6


def test_an_order_no_longer_built_is_skipped():
    """Claimed by another firer between the batch load and this claim: a lost race."""
    rig = Rig()
    mine, theirs = rig.orders(("a1", 0, "BUY", "E0"), ("a1", 1, "BUY", "E1"))
    assert rig.store.claim_order(rig.store.stored(theirs), "other-firer", T.isoformat())
    counts = rig.firer().fire([mine, theirs])
    assert counts == {"sent": 1, "failed": 0, "skipped": 1}
    assert rig.placed() == ["E0"]
    assert rig.store.stored(theirs).claim_token == "other-firer"
    assert rig.status(theirs) == lc.CLAIMED  # left to its owner (or the recovery sweep)


def test_a_crash_after_the_claim_leaves_the_order_claimed_and_a_retry_does_not_send_it():
    rig = Rig()
    [order] = rig.orders(("a1", 0, "BUY", "E0"))

    def crash(step: str, _order: object) -> None:
        if step == "after_claim":
            raise SystemExit("killed")  # not an Exception: nothing in the firer catches it

    with pytest.raises(SystemExit):
        rig.firer(checkpoint=crash).fire([order])
    assert rig.placed() == [] and rig.status(order) == lc.CLAIMED
    counts = rig.firer().fire([rig.store.stored(order)])
    assert counts["skipped"] == 1 and rig.placed() == []  # recovery resolves it by tag, not us


def test_a_storage_failure_on_one_claim_holds_that_order_back_only():
    rig = Rig()
    first, second = rig.orders(("a1", 0, "BUY", "E0"), ("a1", 1, "BUY", "E1"))
    rig.store.fail("claim_order", DependencyUnavailable("table throttled"))
    counts = rig.firer().fire([first, second])
    assert counts == {"sent": 1, "failed": 0, "skipped": 1}
    assert rig.placed() == ["E1"] and rig.status(first) == lc.BUILT


def test_a_failed_record_leaves_the_order_claimed_and_the_rest_recorded():
    """The send happened; its record did not: recovery finds it by tag (never resent blindly)."""
    rig = Rig()
    first, second = rig.orders(("a1", 0, "BUY", "E0"), ("a2", 0, "BUY", "F0"))
    rig.store.fail("record_ack", DependencyUnavailable("table unavailable"))
    counts = rig.firer().fire([first, second])
    assert counts["sent"] == 2 and sorted(rig.placed()) == ["E0", "F0"]
    statuses = sorted([rig.status(first), rig.status(second)])
    assert statuses == [lc.OPEN, lc.CLAIMED]


def test_broker_outcomes_become_lifecycle_states():
    rig = Rig()
    ok, refused, never_left, ambiguous, broken = rig.orders(
        ("a1", 0, "BUY", "OK"), ("a1", 1, "BUY", "RJ"), ("a1", 2, "BUY", "NL"),
        ("a1", 3, "SELL", "AM"), ("a1", 4, "SELL", "BR"),
    )  # fmt: skip
    rig.brokers["a1"].errors.update(
        RJ=Rejected("margin shortfall", broker="fake"),
        NL=Unavailable("connection refused", broker="fake", sent=False),
        AM=Unavailable("read timeout", broker="fake", sent=True),
        BR=KeyError("order_id"),  # a malformed reply: the request may have left
    )
    counts = rig.firer().fire([ok, refused, never_left, ambiguous, broken])
    assert counts == {"sent": 1, "failed": 2, "skipped": 0, "unknown": 2}
    stored = {o.tag: rig.store.stored(o) for o in (ok, refused, never_left, ambiguous, broken)}
    assert {t: o.status for t, o in stored.items()} == {
        "OK": lc.OPEN, "RJ": lc.REJECTED, "NL": lc.FAILED, "AM": lc.UNKNOWN, "BR": lc.UNKNOWN,
    }  # fmt: skip
    assert stored["NL"].sent_at is None  # provably never left: no send time
    assert stored["AM"].sent_at is not None and stored["RJ"].sent_at is not None
    assert stored["RJ"].error["kind"] == "rejected"
    unknown = [e for e in rig.events() if e["code"] == "order_outcome_unknown"]
    assert sorted(e["order"] for e in unknown) == ["am", "br"]
    assert [s for s, _ in rig.alerts] == ["order outcome unknown"] * 2


def test_an_account_without_an_adapter_fails_its_orders_and_not_the_others():
    rig = Rig()
    theirs, mine = rig.orders(("a1", 0, "BUY", "E0"), ("a2", 0, "BUY", "F0"))
    rig.broken_accounts.add("a1")
    counts = rig.firer().fire([theirs, mine])
    assert counts == {"sent": 1, "failed": 1, "skipped": 0}
    assert rig.placed() == ["F0"]
    assert rig.status(theirs) == lc.FAILED and rig.store.stored(theirs).sent_at is None


def test_an_account_refusing_for_its_session_fails_every_leg_never_sent():
    rig = Rig()
    orders = rig.orders(("a1", 0, "BUY", "E0"), ("a1", 1, "SELL", "E1"))
    rig.brokers["a1"].errors.update(
        E0=AuthExpired("log in first", broker="fake"), E1=AuthExpired("log in first")
    )
    counts = rig.firer().fire(orders)
    assert counts == {"sent": 0, "failed": 2, "skipped": 0}
    assert [rig.status(o) for o in orders] == [lc.FAILED, lc.FAILED]


def test_hedges_go_first_within_an_account():
    rig = Rig()
    orders = rig.orders(
        ("a1", 0, "SELL", "S0"), ("a1", 1, "BUY", "B1"), ("a1", 2, "SELL", "S2"),
        ("a1", 3, "BUY", "B3"),
    )  # fmt: skip
    rig.firer().fire(orders)
    assert rig.placed() == ["B1", "B3", "S0", "S2"]


def test_an_entry_past_its_delay_is_missed_with_an_alert_and_never_sent():
    rig = Rig(start=T + timedelta(seconds=45))
    [late] = rig.orders(("a1", 0, "BUY", "E0"), max_delay=30)
    counts = rig.firer().fire([late])
    assert counts == {"sent": 0, "failed": 0, "skipped": 0, "missed": 1}
    assert rig.placed() == [] and rig.status(late) == lc.MISSED
    assert [e["code"] for e in rig.events()] == ["entry_missed"]


def test_an_entry_within_its_delay_and_an_exit_however_late_are_sent():
    entry = Rig(start=T + timedelta(seconds=20))
    [order] = entry.orders(("a1", 0, "BUY", "E0"), max_delay=30)
    assert entry.firer().fire([order])["sent"] == 1
    exit_ = Rig(phase="EXIT", start=T + timedelta(minutes=5))
    [closing] = exit_.orders(("a1", 0, "SELL", "X0"))
    assert exit_.firer().fire([closing])["sent"] == 1 and exit_.placed() == ["X0"]


def test_a_broken_before_send_hook_holds_closing_orders_back_and_sends_entries():
    """Unchecked, an exit could reverse a position a stop already closed: fail closed."""
    rig = Rig(phase="EXIT")
    [closing] = rig.orders(("a1", 0, "SELL", "X0"))

    def hook(orders, requests, adapter):
        raise RuntimeError("positions unreadable")

    counts = rig.firer(before_send=hook).fire([closing])
    assert rig.placed() == [] and counts["sent"] == 0
    assert rig.status(closing) == lc.CLAIMED  # recovery resends it once through the hook
    assert [e["code"] for e in rig.events()] == ["closing_held_back"]
    entries = Rig()
    [entry] = entries.orders(("a1", 0, "BUY", "E0"))
    assert entries.firer(before_send=hook).fire([entry])["sent"] == 1


def test_the_before_send_hook_may_trim_an_account_to_what_is_held():
    rig = Rig(phase="EXIT")
    keep, drop = rig.orders(("a1", 0, "SELL", "X0"), ("a1", 1, "SELL", "X1"))

    def hook(orders, requests, adapter):
        kept = [(o, r) for o, r in zip(orders, requests, strict=True) if o.tag != "X1"]
        return [o for o, _ in kept], [r for _, r in kept]

    rig.firer(before_send=hook).fire([keep, drop])
    assert rig.placed() == ["X0"]
    assert rig.status(keep) == lc.OPEN and rig.status(drop) == lc.CLAIMED


def test_an_unusable_stored_request_fails_that_order_only():
    rig = Rig()
    bad, good = rig.orders(("a1", 0, "BUY", "E0"), ("a1", 1, "BUY", "E1"))
    bad.request = {**bad.request, "quantity": 64}  # not a whole lot
    rig.store.put_orders([bad])
    counts = rig.firer().fire([bad, good])
    assert counts == {"sent": 1, "failed": 1, "skipped": 0}
    assert rig.placed() == ["E1"] and rig.status(bad) == lc.FAILED


def test_a_crash_after_the_send_before_the_record_leaves_it_claimed_for_the_tag_lookup():
    """The broker has it and the store does not know: a retried fire must not send it again."""
    rig = Rig()
    [order] = rig.orders(("a1", 0, "BUY", "E0"))

    def crash(step: str, _order: object) -> None:
        if step == "after_send":
            raise SystemExit("killed")

    with pytest.raises(SystemExit):
        rig.firer(checkpoint=crash).fire([order])
    assert rig.placed() == ["E0"] and rig.status(order) == lc.CLAIMED
    assert rig.firer().fire([rig.store.stored(order)])["skipped"] == 1
    assert rig.placed() == ["E0"]


def test_the_brokers_ack_overrules_a_never_sent_recorded_during_the_send():
    """A sweep that took the claim for dead and recorded the order never sent is wrong once the
    broker acknowledges it: the firer's record takes it to OPEN with the broker's id."""
    rig = Rig()
    [order] = rig.orders(("a1", 0, "BUY", "E0"))
    error = {"kind": "never_sent", "code": "never_sent", "message": "absent at the broker"}

    def sweep_first(operation: str, record: object) -> None:
        if operation == "record_ack":
            rig.store.before_write = None
            assert rig.store.record_failed(
                rig.store.stored(order), lc.FAILED, error, at=T.isoformat()
            )

    rig.store.before_write = sweep_first
    assert rig.firer().fire([order])["sent"] == 1
    stored = rig.store.stored(order)
    assert (stored.status, stored.broker_order_id) == (lc.OPEN, "B1")
