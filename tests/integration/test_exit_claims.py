"""Exits and their claims (issue #10, the double-close window), on the emulator and the fakes.

Two firers can hold sibling exit orders of one strategy and account (a restarted clock firing the
slot while the recovery sweep fires what nobody claimed): each claimed its own. One firer's guard
used to record the other's claimed, not-yet-sent sibling FAILED after its 5 s settling deadline
(absent at the broker: it had not left yet), close its units "beyond the plan", and the other
firer then sent the sibling all the same: the position was closed twice (reversed). Now a claim
is its claimer's while it is live, the guard confirms its claim just before the send (a sibling
failed meanwhile is refused), and what a guard cannot decide is held back for the recovery
sweep's single resend.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from chalicelib.adapters.dynamo.event_items import events_of
from chalicelib.adapters.dynamo.models import OrderItem
from chalicelib.domain import order_lifecycle as lc
from chalicelib.services.closing import canonical_symbol
from chalicelib.services.order_builder import ChildOrder
from tests.integration.slot_rig import (  # noqa: F401  (fixtures)
    EXIT_SLOT,
    SLOT,
    Trader,
    slot_clock_fixture,
    slot_fakes_fixture,
    trader_fixture,
)
from tests.integration.test_order_lifecycle import _orders


class Paused:
    """A broker port whose first placement waits until released: the firer's request is about to
    leave (a firer pacing its batch, a slow machine) when another actor looks at its order."""

    def __init__(self, inner: Any, reached: threading.Event, go: threading.Event) -> None:
        self.inner, self.reached, self.go = inner, reached, go

    def place(self, request: Any) -> Any:
        self.reached.set()
        assert self.go.wait(60), "never released"
        return self.inner.place(request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _held_after_entry(trader: Trader):
    entry = trader.plan(SLOT)
    trader.at(SLOT - timedelta(milliseconds=50))
    assert trader.engine.firer.fire(entry.orders)["sent"] == 7
    assert trader.engine.settlement.settle(trader.uid, entry.execution_sk).status == "COMPLETE"
    assert trader.platform_positions() == trader.broker_positions() != {}
    return trader.plan(EXIT_SLOT)


def _symbol(order: OrderItem) -> str:
    return canonical_symbol(ChildOrder.from_dict(order.request).key)


def test_a_sibling_claimed_by_a_live_firer_is_never_failed_under_it_nor_closed_twice(
    trader: Trader,
):
    exit_ = _held_after_entry(trader)
    before = trader.broker_positions()
    engine = trader.engine
    kite = trader.accounts["zerodha"]
    mine = [o for o in exit_.orders if o.account_id == kite]
    first = sorted({_symbol(o) for o in mine})[0]
    siblings = [o for o in mine if _symbol(o) == first]  # the first firer's
    theirs = [o for o in mine if _symbol(o) != first]  # the second firer's
    assert siblings and theirs
    trader.at(EXIT_SLOT - timedelta(milliseconds=50))
    engine.firer.fire([o for o in exit_.orders if o.account_id != kite])  # the other account

    reached, go = threading.Event(), threading.Event()

    def paused(uid: str, account_id: str) -> Any:
        return Paused(engine.broker_access.adapter(uid, account_id), reached, go)

    slow = dataclasses.replace(engine.firer, adapter_for=paused)
    second = dataclasses.replace(engine.firer)  # another firer: its own claims and its own guard
    with ThreadPoolExecutor(max_workers=1) as pool:
        sending = pool.submit(slow.fire, siblings)
        try:
            assert reached.wait(60)  # its guard passed the siblings: their request is leaving
            trader.at(EXIT_SLOT + timedelta(seconds=16))  # its guard's lease (15 s) expired
            second.fire(theirs)  # finds the siblings claimed, unsent, absent at the broker
        finally:
            go.set()
        sending.result()

    reversed_ = {k: n for k, n in trader.broker_positions().items() if n * before[k] < 0}
    assert reversed_ == {}, f"closed twice: {reversed_}"  # was: the siblings' units reversed
    stored = {o.order_id: o for o in trader.orders()}
    assert all(stored[o.order_id].broker_order_id for o in siblings)  # they left, once
    held_back = [stored[o.order_id] for o in theirs]
    assert {o.status for o in held_back} == {lc.CLAIMED}  # kept back, never sent
    assert {o.error["code"] for o in held_back} == {"in_flight"}
    told = [e for e in events_of(trader.uid, exit_.execution_sk) if e.get("kind") == "alert"]
    assert {e["code"] for e in told} == {"closing_held_back"}

    recovery = dataclasses.replace(engine.recovery, lookup_delays=(0.0, 0.2))
    trader.at(EXIT_SLOT + timedelta(seconds=80))  # the held-back claims are stale: resent once
    report = recovery.sweep(users=[trader.uid])
    assert report.resent == len(theirs)
    recovery.sweep(users=[trader.uid])

    twice = {tag: n for tag, n in trader.broker_tags().items() if n > 1}
    assert twice == {}, f"sent more than once: {twice}"
    assert trader.platform_positions() == trader.broker_positions() == {}
    resent = [o for o in trader.orders() if o.resent_from]
    assert sorted(o.resent_from for o in resent) == sorted(o.tag for o in theirs)
    at_broker = trader.broker_tags()
    assert all((trader.client_ids[kite], o.tag) not in at_broker for o in theirs)


def test_a_claim_is_its_claimers_while_it_is_live(container):
    """The store's conditions: a live claim is never recorded never sent or reopened by someone
    else; once that happened, the claimer's confirmation before the send is refused."""
    uid = uuid.uuid4().hex
    store = container.executions
    [order] = _orders(container, uid, 1)
    order.status, order.filled_quantity, order.phase = lc.BUILT, 0, "EXIT"
    store.save_order(order)
    claimed_at = SLOT.isoformat(timespec="microseconds")
    assert store.claim_order(order, "f1", claimed_at)
    error = {"kind": "never_sent", "code": "never_sent", "message": "absent"}
    live = lc.stale_claims_before(SLOT + timedelta(seconds=30))
    stale = lc.stale_claims_before(SLOT + timedelta(seconds=61))

    other = OrderItem.get(order.pk, order.sk, consistent_read=True)
    assert not store.record_failed(other, lc.FAILED, error, at="x", claimed_before=live)
    assert not store.reopen_to_resend(other, "T0R", "absent", at="x", claimed_before=live)
    assert not store.renew_claim(other, "f2", at="x")  # another firer's
    assert not store.cancel_unsent(other, "f2", "already_closed", "x", at="x")
    assert not store.hold_back(other, "f2", "in_flight", "x", at="x")
    renewed = (SLOT + timedelta(seconds=20)).isoformat(timespec="microseconds")
    assert store.renew_claim(order, "f1", at=renewed)  # still its own: it may send

    # its claim renewed at T+20 s is live at T+61 s; at T+81 s its claimer is gone
    assert not store.record_failed(other, lc.FAILED, error, at="x", claimed_before=stale)
    later = lc.stale_claims_before(SLOT + timedelta(seconds=81))
    assert store.record_failed(other, lc.FAILED, error, at="x", claimed_before=later)
    assert not store.renew_claim(order, "f1", at="y")  # the firer's send is refused
    assert order.status == lc.FAILED


def test_settling_never_fails_an_exit_it_may_resend(trader: Trader):
    """Exits the slot's settlement (or an exit guard's) found never sent at its deadline used to
    be recorded FAILED and never resent: the position stayed open after the exit time. They stay
    in doubt now, and the recovery sweep resends each once (``<tag>R``) through the guard."""
    exit_ = _held_after_entry(trader)
    engine = trader.engine
    trader.at(EXIT_SLOT - timedelta(seconds=2))
    for order in exit_.orders:  # claimed by a firer that died before sending
        assert engine.executions.claim_order(order, "dead", order.scheduled_at)
    quick = dataclasses.replace(
        engine.settlement, backoff=dataclasses.replace(engine.settlement.backoff, deadline=0.1)
    )
    trader.at(EXIT_SLOT + timedelta(seconds=70))
    quick.settle(trader.uid, exit_.execution_sk)
    assert {o.status for o in trader.orders() if o.phase == "EXIT"} == {lc.CLAIMED}

    recovery = dataclasses.replace(engine.recovery, lookup_delays=(0.0, 0.2))
    report = recovery.sweep(users=[trader.uid])
    assert report.resent == 7
    assert trader.platform_positions() == trader.broker_positions() == {}
    assert all(n == 1 for n in trader.broker_tags().values())


def test_an_entry_claimed_by_a_live_firer_is_not_failed_under_it(trader: Trader):
    """A firer still sending an entry (pacing, a slow machine) when the recovery sweep looks: the
    entry is absent at the broker but may leave at any moment, until its staleness bound
    (``max_entry_delay_seconds``) has passed. Recording it never-sent would run the leg-failure
    policy (UNWIND closes its siblings) while the order then opens a position anyway."""
    entry = trader.plan(SLOT)
    engine = trader.engine
    kite = trader.accounts["zerodha"]
    mine = [o for o in entry.orders if o.account_id == kite]
    reached, go = threading.Event(), threading.Event()

    def paused(uid: str, account_id: str) -> Any:
        return Paused(engine.broker_access.adapter(uid, account_id), reached, go)

    slow = dataclasses.replace(engine.firer, adapter_for=paused)
    recovery = dataclasses.replace(engine.recovery, lookup_delays=(0.0, 0.2))
    trader.at(SLOT - timedelta(milliseconds=50))
    with ThreadPoolExecutor(max_workers=1) as pool:
        sending = pool.submit(slow.fire, mine[:1])
        try:
            assert reached.wait(60)  # claimed, its request about to leave
            trader.at(SLOT + timedelta(seconds=8))  # past the sweep's grace, inside the bound
            report = recovery.sweep(users=[trader.uid])
            stored = {o.order_id: o for o in trader.orders()}
            assert stored[mine[0].order_id].status == lc.CLAIMED  # undecided, not FAILED
            assert report.never_sent == 0 and report.undecided >= 1
        finally:
            go.set()
        sending.result()
    stored = {o.order_id: o for o in trader.orders()}
    assert stored[mine[0].order_id].broker_order_id  # it left, once
    assert trader.broker_tags()[(trader.client_ids[kite], mine[0].tag)] == 1
