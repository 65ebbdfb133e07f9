"""The recovery sweep's decisions on the in-memory store: an order in doubt is looked up by tag and
found, failed never-sent or (a closing order) resent once under a new tag, never under a live
claim; orders nobody claimed are fired late or, after the close, recorded never sent; a gate
without orders is closed; a lost race with the live firer leaves the firer's truth."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib.domain import order_lifecycle as lc
from chalicelib.domain.calendar import IST
from chalicelib.ports.broker import OrderStatus
from chalicelib.services.order_sender import stamp
from chalicelib.services.recovery import Recovery
from tests.fakes.records import Account
from tests.unit.engine.settling import LOT, SLOT, UID, World

CLAIMED_AT = stamp(SLOT)


@dataclass
class LateFirer:
    """The firer as recovery uses it: claims each order (BUILT -> SENDING, conditional)."""

    world: World
    fired: list[str] = field(default_factory=list)

    def fire(self, orders: list[Any]) -> dict[str, int]:
        sent = 0
        for order in orders:
            if self.world.store.claim_order(order, "late", stamp(self.world.clock())):
                self.fired.append(order.tag)
                sent += 1
        return {"sent": sent}


@dataclass
class Sweep:
    world: World = field(default_factory=World)
    alerts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.firer = LateFirer(self.world)
        w = self.world
        self.recovery = Recovery(
            w.store, w.store, w.settlement(), self.firer, w.clock, sleep=w.ticker.sleep,
            alert=lambda subject, details: self.alerts.append((subject, details)),
            lookup_delays=(0.0, 1.0), monotonic=w.ticker,
        )  # fmt: skip

    def at(self, seconds_after_slot: float):
        self.world.clock.now = SLOT
        self.world.clock.advance(seconds_after_slot)
        return self.recovery.sweep(users=[UID])

    def subjects(self) -> list[str]:
        return [subject for subject, _ in self.alerts]


def test_an_entry_in_doubt_under_a_live_claim_is_left_to_its_firer_then_failed():
    s = Sweep()
    s.world.execution()
    order = s.world.order("o1", status=lc.CLAIMED, claim_token="firer", claimed_at=CLAIMED_AT)

    early = s.at(10)
    assert early.undecided == 1 and s.world.stored(order).status == lc.CLAIMED

    late = s.at(120)
    stored = s.world.stored(order)
    assert late.never_sent == 1 and stored.status == lc.FAILED
    assert stored.error["code"] == "never_sent"
    assert s.subjects() == ["order never reached the broker"]
    assert late.settled == {order.execution: "FAILED"}


def test_an_order_found_by_its_tag_is_acknowledged_and_its_fill_applied():
    s = Sweep()
    s.world.execution()
    order = s.world.order("o1", status=lc.SENT, sent_at=CLAIMED_AT)
    s.world.brokers["A1"].add(order.tag, LOT, status=OrderStatus.COMPLETE, filled=LOT,
                              price="100", order_id="B5")  # fmt: skip

    report = s.at(20)

    stored = s.world.stored(order)
    assert report.found == 1 and stored.broker_order_id == "B5"
    assert stored.status == lc.COMPLETE and s.world.net() == -LOT
    assert report.settled == {order.execution: "COMPLETE"}


def test_a_closing_order_never_received_is_resent_once_under_a_new_tag():
    s = Sweep()
    s.world.execution(phase="EXIT", status="SENT")
    order = s.world.order("o1", phase="EXIT", side="BUY", status=lc.SENT, sent_at=CLAIMED_AT)

    waiting = s.at(30)  # its sender may still be pacing the batch: not yet
    assert waiting.undecided == 1 and s.world.stored(order).status == lc.SENT

    report = s.at(90)
    stored = s.world.stored(order)
    assert report.resent == 1 and stored.resent_from == order.tag
    assert s.firer.fired == [order.tag + "R"] and stored.status == lc.CLAIMED
    assert "closing order never reached the broker: resent" in s.subjects()

    s.at(100)  # claimed by the late firer just now: its claim is live
    assert s.world.stored(order).status == lc.CLAIMED

    final = s.at(400)  # the resend never reached the broker either: failed, never a third time
    stored = s.world.stored(order)
    assert final.resent == 0 and stored.status == lc.FAILED
    assert s.firer.fired == [order.tag + "R"]


def test_a_tag_the_broker_shows_twice_is_left_unknown_with_an_alert():
    s = Sweep()
    s.world.execution()
    order = s.world.order("o1", status=lc.SENT, sent_at=CLAIMED_AT)
    for _ in range(2):
        s.world.brokers["A1"].add(order.tag, LOT)

    report = s.at(60)

    assert report.ambiguous == 1 and s.world.stored(order).status == lc.UNKNOWN
    assert s.subjects() == ["order outcome unknown"]
    assert s.at(120).ambiguous == 0  # known ambiguous: not looked up and alerted again


def test_a_broker_that_does_not_answer_decides_nothing():
    s = Sweep()
    s.world.execution()
    order = s.world.order("o1", status=lc.SENT, sent_at=CLAIMED_AT)
    s.world.brokers["A1"].down = True

    report = s.at(120)

    assert report.undecided >= 1 and report.never_sent == 0
    assert s.world.stored(order).status == lc.SENT


def test_the_live_firer_acknowledging_first_wins_over_the_sweeps_never_sent():
    s = Sweep()
    s.world.execution()
    order = s.world.order("o1", status=lc.SENT, sent_at=CLAIMED_AT)

    def firer_records_the_ack(operation: str, record: Any) -> None:
        if operation == "record_failed":
            stored = s.world.stored(order)
            stored.status, stored.broker_order_id = lc.OPEN, "B8"
            s.world.placed_at_broker(stored)

    s.world.store.before_write = firer_records_the_ack
    report = s.at(120)

    stored = s.world.stored(order)
    assert report.never_sent == 0 and stored.status == lc.OPEN
    assert stored.broker_order_id == "B8" and s.alerts == []


def test_orders_nobody_claimed_are_fired_late_once():
    s = Sweep()
    s.world.execution(status="PLANNED")
    order = s.world.order("o1", status=lc.BUILT)

    first = s.at(20)
    second = s.at(40)

    assert first.fired == 1 and second.fired == 0
    assert s.firer.fired == [order.tag]


def test_after_the_close_an_entry_nobody_claimed_is_missed_and_an_exit_failed():
    s = Sweep()
    s.world.execution(status="PLANNED")
    s.world.execution(phase="EXIT", status="PLANNED")
    entry = s.world.order("o1", status=lc.BUILT)
    exit_ = s.world.order("o2", phase="EXIT", side="BUY", status=lc.BUILT)
    s.world.clock.now = datetime(2026, 12, 1, 16, 0, tzinfo=IST)

    report = s.recovery.sweep(users=[UID])

    assert s.world.stored(entry).status == lc.MISSED
    assert s.world.stored(exit_).status == lc.FAILED
    assert s.world.stored(exit_).error["code"] == "session_closed"
    assert report.never_sent == 2 and s.firer.fired == []


def test_a_gate_taken_without_orders_is_closed_skipped_with_its_reason():
    s = Sweep()
    execution = s.world.execution(status="PLANNED")

    early = s.at(10)  # planning may still be writing them
    assert early.skipped_executions == 0

    report = s.at(60)
    stored = s.world.store.stored_execution(UID, execution.sk)
    assert report.skipped_executions == 1 and stored.status == "SKIPPED"
    assert "interrupted" in stored.summary["reason"]
    assert s.subjects() == ["entry skipped"]


def test_a_fill_a_crash_left_unapplied_reaches_the_position():
    s = Sweep()
    s.world.execution(status="COMPLETE")
    order = s.world.order("o1", status=lc.COMPLETE, broker_order_id="B3", filled_quantity=LOT,
                          average_price="100")  # fmt: skip
    s.world.placed_at_broker(order, filled=LOT, price="100")
    s.world.brokers["A1"].fill("B3", LOT, "100")

    report = s.at(20)
    again = s.at(40)

    assert report.applied == 1 and s.world.net() == -LOT
    assert again.applied == 0 and s.world.net() == -LOT


def test_the_sweep_visits_every_user_with_an_account():
    s = Sweep()
    s.world.store.accounts = [
        Account(sk="ACCOUNT#A1", uid=UID, account_id="A1", broker="zerodha", client_id="c",
                label="l", status="ACTIVE"),
        Account(sk="ACCOUNT#A2", uid=UID, account_id="A2", broker="zerodha", client_id="c",
                label="l", status="ACTIVE"),
    ]  # fmt: skip

    assert s.recovery.sweep(SLOT).users == 1


def test_a_resend_whose_claim_is_renewed_meanwhile_stays_with_its_firer():
    s = Sweep()
    s.world.execution(phase="EXIT", status="SENT")
    order = s.world.order("o1", phase="EXIT", side="BUY", status=lc.CLAIMED, tag="T1R",
                          resent_from="T1", claim_token="late", claimed_at=CLAIMED_AT)  # fmt: skip

    def firer_renews_its_claim(operation: str, record: Any) -> None:
        if operation == "record_failed":  # the exit guard confirms the claim just before sending
            s.world.stored(order).claimed_at = stamp(s.world.clock())

    s.world.store.before_write = firer_renews_its_claim
    report = s.at(400)

    assert report.never_sent == 0 and s.world.stored(order).status == lc.CLAIMED


def test_a_sweep_over_budget_leaves_the_rest_and_the_next_one_starts_with_them():
    s = Sweep()
    s.recovery.budget = 0.5
    s.world.execution()
    s.world.order("o1", status=lc.SENT, sent_at=CLAIMED_AT)  # absent: its lookups take 1 s
    theirs = dataclasses.replace(s.world.order("o2", status=lc.SENT, sent_at=CLAIMED_AT), uid="u2")
    s.world.store.add_order(theirs)
    s.world.store.add_execution(
        dataclasses.replace(s.world.store.get_execution(UID, theirs.execution), uid="u2")
    )
    s.world.brokers["A1"].add(theirs.tag, LOT, status=OrderStatus.COMPLETE, filled=LOT,
                              price="100", order_id="B2")  # fmt: skip
    s.world.clock.advance(20)

    first = s.recovery.sweep(users=[UID, "u2"])
    assert first.deferred == 1 and s.world.store.stored_order("u2", theirs.sk).status == lc.SENT

    second = s.recovery.sweep(users=[UID, "u2"])
    assert second.found == 1 and second.deferred == 0
    assert s.world.store.stored_order("u2", theirs.sk).broker_order_id == "B2"
