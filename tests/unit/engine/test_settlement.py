"""Settlement's decisions on the in-memory store: fills reach positions exactly once (partial
fills, replays, two settlers, a position written by another order meanwhile), the execution's
outcome, the leg-failure policy (unwind once, keep), and what the deadline decides about orders
the broker never acknowledged."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chalicelib.domain import order_lifecycle as lc
from chalicelib.ports.broker import OrderState, OrderStatus, Side
from chalicelib.services.settlement import AMBIGUOUS
from tests.unit.engine.settling import CE, LOT, PE, UID, Crash, World


def _state(order_id: str, status: OrderStatus, quantity: int, filled: int, price: str | None):
    return OrderState(order_id, status, quantity, filled, None if price is None else Decimal(price),
                      tag="", symbol="NIFTY26DEC26000CE", side=Side.SELL)  # fmt: skip


def test_a_complete_fill_reaches_the_position_once_however_often_settled():
    w = World()
    execution = w.execution()
    order = w.order("o1", broker_order_id="B7")
    w.placed_at_broker(order, filled=LOT, price="101.5")
    w.brokers["A1"].fill("B7", LOT, "101.5")

    first = w.settlement().settle(UID, execution.sk)
    again = w.settlement().settle(UID, execution.sk)

    assert (first.status, first.settled) == ("COMPLETE", True)
    assert again.status == "COMPLETE"
    assert w.net() == -LOT
    position = w.store.positions(UID, "s1")[0]
    assert Decimal(position.sell_value) == Decimal("101.5") * LOT
    assert [f["id"] for f in w.stored(order).fills] == [f"B7:{LOT}"]
    assert [e["kind"] for e in w.events()] == ["settled"]  # the second pass changed nothing


def test_a_partial_fill_is_applied_when_seen_and_the_rest_later_each_once():
    w = World()
    execution = w.execution()
    order = w.order("o1", lots=2, broker_order_id="B7")
    w.placed_at_broker(order)
    w.brokers["A1"].fill("B7", LOT, "100")

    first = w.settlement().settle(UID, execution.sk, give_up=False)
    assert not first.settled and w.stored(order).status == lc.PARTIAL
    assert w.net() == -LOT

    w.brokers["A1"].fill("B7", 2 * LOT, "101")  # cumulative 130 at an average of 101
    w.settlement().settle(UID, execution.sk)

    stored = w.stored(order)
    assert stored.status == lc.COMPLETE and stored.applied_quantity == 2 * LOT
    assert w.net() == -2 * LOT
    position = w.store.positions(UID, "s1")[0]
    assert Decimal(position.sell_value) == Decimal("101") * 2 * LOT  # 6500 + (13130 - 6500)
    assert [f["quantity"] for f in stored.fills] == [LOT, LOT]


def test_a_replayed_lower_status_neither_takes_the_fill_back_nor_adds_it_again():
    w = World()
    execution = w.execution()
    order = w.order("o1", lots=2, broker_order_id="B7")
    w.placed_at_broker(order)
    w.brokers["A1"].fill("B7", 2 * LOT, "100")
    w.settlement().settle(UID, execution.sk)
    settled = w.store.orders_of_execution(UID, execution.sk)[0]

    w.settlement().record(settled, _state("B7", OrderStatus.OPEN, 2 * LOT, LOT, "100"))  # stale

    stored = w.stored(order)
    assert (stored.status, stored.filled_quantity) == (lc.COMPLETE, 2 * LOT)
    assert (settled.status, settled.filled_quantity) == (lc.COMPLETE, 2 * LOT)  # refreshed
    assert w.net() == -2 * LOT


def test_two_settlers_with_the_same_fill_apply_it_once():
    w = World()
    execution = w.execution()
    order = w.order("o1", broker_order_id="B7")
    w.placed_at_broker(order)
    w.brokers["A1"].fill("B7", LOT, "100")
    mine, theirs = (w.store.orders_of_execution(UID, execution.sk) for _ in range(2))
    state = w.brokers["A1"].status("B7")

    w.settlement().record(mine[0], state)
    w.settlement().record(theirs[0], state)  # read before the first wrote

    assert w.net() == -LOT
    assert len(w.stored(order).fills) == 1
    assert theirs[0].applied_quantity == LOT  # the loser continues from the truth


def test_a_position_written_meanwhile_by_another_order_is_reread_not_overwritten():
    w = World()
    execution = w.execution()
    first = w.order("o1", broker_order_id="B1")
    second = w.order("o2", broker_order_id="B2")
    for order, broker_id in ((first, "B1"), (second, "B2")):
        w.placed_at_broker(order)
        w.brokers["A1"].fill(broker_id, LOT, "100")
    settlement = w.settlement()
    settlement.record(
        w.store.orders_of_execution(UID, execution.sk)[0], w.brokers["A1"].status("B1")
    )
    raced = []

    def other_settler(operation, record):  # the other order's fill lands between read and write
        if operation == "apply_fill" and record.order_id == "o2" and not raced:
            raced.append(record.order_id)
            position = next(iter(w.store.positions_by_key.values()))
            position.net_quantity -= LOT
            position.version += 1

    w.store.before_write = other_settler
    settlement.record(
        w.store.orders_of_execution(UID, execution.sk)[1], w.brokers["A1"].status("B2")
    )

    assert raced == ["o2"]
    assert w.net() == -3 * LOT  # o1, the concurrent write, and o2 re-applied on top of it
    assert w.stored(second).applied_quantity == LOT


def test_a_crash_inside_fill_application_leaves_the_fill_for_the_next_pass():
    w = World()
    execution = w.execution()
    order = w.order("o1", broker_order_id="B7")
    w.placed_at_broker(order)
    w.brokers["A1"].fill("B7", LOT, "100")
    w.crash_at = "in_fill"
    with pytest.raises(Crash):
        w.settlement().settle(UID, execution.sk)
    assert w.net() == 0 and w.stored(order).status == lc.OPEN  # nothing half-written

    w.crash_at = None
    report = w.settlement().settle(UID, execution.sk)
    assert report.status == "COMPLETE" and w.net() == -LOT


def test_a_leg_failing_after_another_filled_unwinds_the_fill_once():
    w = World()
    execution = w.execution()
    short = w.order("o1", broker_order_id="B1")
    hedge = w.order("o2", side="BUY", key=PE, broker_order_id="B2")
    w.placed_at_broker(short)
    w.placed_at_broker(hedge)
    w.brokers["A1"].fill("B1", LOT, "100")
    w.brokers["A1"].reject("B2")

    report = w.settlement().settle(UID, execution.sk)
    again = w.settlement().settle(UID, execution.sk)

    assert report.policy == "UNWIND" and report.status == "UNWOUND"
    placed = w.brokers["A1"].placed
    assert [(p.side, p.quantity, p.instrument.key) for p in placed] == [(Side.BUY, LOT, CE)]
    assert w.net(CE) == 0 and w.net(PE) == 0
    assert again.status == "UNWOUND" and len(w.brokers["A1"].placed) == 1  # never twice
    assert [e["kind"] for e in w.events()] == ["unwind", "settled"]


def test_an_unwind_another_settler_holds_is_left_to_it():
    w = World()
    execution = w.execution(unwind_token="theirs")
    w.placed_at_broker(w.order("o1", broker_order_id="B1"))
    w.placed_at_broker(w.order("o2", side="BUY", key=PE, broker_order_id="B2"))
    w.brokers["A1"].fill("B1", LOT, "100")
    w.brokers["A1"].reject("B2")

    report = w.settlement().settle(UID, execution.sk)

    assert report.unwind == [{"status": "UNWINDING_ELSEWHERE"}]
    assert w.brokers["A1"].placed == [] and report.status == "PARTIAL"


def test_keep_policy_alerts_and_keeps_the_fills():
    w = World()
    w.policy("KEEP")
    execution = w.execution()
    w.placed_at_broker(w.order("o1", broker_order_id="B1"))
    w.placed_at_broker(w.order("o2", side="BUY", key=PE, broker_order_id="B2"))
    w.brokers["A1"].fill("B1", LOT, "100")
    w.brokers["A1"].reject("B2")

    report = w.settlement().settle(UID, execution.sk)

    assert report.policy == "KEEP" and report.status == "PARTIAL"
    assert w.brokers["A1"].placed == [] and w.net(CE) == -LOT
    alert = next(e for e in w.events() if e["kind"] == "alert")
    assert alert["code"] == "leg_failed" and alert["failed_orders"] == ["o2"]


def test_nothing_filled_is_a_failed_entry_without_an_unwind():
    w = World()
    execution = w.execution()
    order = w.order("o1", broker_order_id="B1")
    w.placed_at_broker(order)
    w.brokers["A1"].reject("B1")

    report = w.settlement().settle(UID, execution.sk)

    assert report.status == "FAILED" and report.policy is None
    assert w.stored(order).status == lc.REJECTED and w.brokers["A1"].placed == []


def test_an_order_found_by_its_tag_is_acknowledged_and_settled():
    w = World()
    execution = w.execution()
    order = w.order("o1", status=lc.SENT, sent_at="2026-12-01T09:20:00.100+05:30")
    w.brokers["A1"].add(order.tag, LOT, status=OrderStatus.COMPLETE, filled=LOT, price="99",
                        order_id="B9")  # fmt: skip

    report = w.settlement().settle(UID, execution.sk)

    stored = w.stored(order)
    assert stored.broker_order_id == "B9" and stored.status == lc.COMPLETE
    assert report.status == "COMPLETE" and w.net() == -LOT


def test_the_deadline_fails_an_order_never_received_once_its_claim_is_stale():
    w = World()
    execution = w.execution()
    order = w.order(
        "o1", status=lc.CLAIMED, claim_token="firer", claimed_at="2026-12-01T09:19:55.000+05:30"
    )
    w.clock.advance(120)  # the claim is older than its lifetime: its firer is gone

    report = w.settlement().settle(UID, execution.sk)

    stored = w.stored(order)
    assert stored.status == lc.FAILED and stored.error["code"] == "never_sent"
    assert report.status == "FAILED" and w.ticker.at >= 3  # it polled to the deadline first


def test_the_deadline_never_fails_an_order_under_a_live_claim():
    w = World()
    execution = w.execution()
    order = w.order(
        "o1", status=lc.CLAIMED, claim_token="firer", claimed_at="2026-12-01T09:20:00.000+05:30"
    )
    w.clock.advance(10)  # the firer may be sending it right now

    report = w.settlement().settle(UID, execution.sk)

    assert w.stored(order).status == lc.CLAIMED
    assert not report.settled and report.status == "SENT"


def test_a_closing_order_never_received_is_left_for_the_resend_unless_the_caller_closes_itself():
    w = World()
    execution = w.execution(phase="EXIT")
    order = w.order(
        "o1", phase="EXIT", side="BUY", status=lc.SENT, sent_at="2026-12-01T09:20:00.000+05:30"
    )
    w.clock.advance(120)

    w.settlement().settle(UID, execution.sk)
    assert w.stored(order).status == lc.SENT  # the recovery sweep resends it once

    w.settlement(fail_closing=True).settle(UID, execution.sk)  # the kill switch's settlement
    assert w.stored(order).status == lc.FAILED


def test_a_tag_the_broker_shows_twice_is_never_guessed():
    w = World()
    execution = w.execution()
    order = w.order("o1", status=lc.SENT, sent_at="2026-12-01T09:20:00.000+05:30")
    for _ in range(2):
        w.brokers["A1"].add(order.tag, LOT, status=OrderStatus.COMPLETE, filled=LOT, price="99")
    w.clock.advance(120)

    w.settlement().settle(UID, execution.sk)

    stored = w.stored(order)
    assert stored.status == lc.UNKNOWN and stored.error["code"] == AMBIGUOUS
    assert stored.broker_order_id is None and w.net() == 0


def test_a_broker_that_does_not_answer_decides_nothing():
    w = World()
    execution = w.execution()
    order = w.order("o1", broker_order_id="B1")
    w.placed_at_broker(order)
    w.brokers["A1"].down = True

    report = w.settlement().settle(UID, execution.sk)

    assert not report.settled and w.stored(order).status == lc.OPEN
