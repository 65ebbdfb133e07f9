"""One contract, two stores: the DynamoDB execution store on the emulator and the in-memory fake
the engine's unit tests use (``tests/fakes/executions.py``) answer the same conditional
operations the same way. A fake that drifted from the adapter (a condition it forgot) would make
the unit tier prove nothing: these scenarios fail on whichever store differs."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.domain import order_lifecycle as lc
from chalicelib.domain.calendar import IST
from chalicelib.domain.instrument import ContractKey
from chalicelib.domain.underlying import OptionType, Underlying
from chalicelib.services.order_builder import ChildOrder
from chalicelib.services.order_sender import stamp
from tests.fakes.executions import InMemoryExecutions
from tests.unit.engine.settling import SLOT

DAY = SLOT.date().isoformat()
EXEC = f"EXEC#{DAY}#S1#ENTRY"
AT = stamp(SLOT)


@pytest.fixture(params=["dynamo", "fake"])
def store(request: pytest.FixtureRequest, container: Any) -> Any:
    # ``container`` is a declared dependency (never looked up lazily): the session's table
    # binding then exists before the per-test guard of the platform's globals records it.
    return InMemoryExecutions() if request.param == "fake" else container.executions


def _order(store: Any, uid: str, order_id: str, *, status: str = lc.BUILT, quantity: int = 65,
           **fields: Any) -> Any:  # fmt: skip
    key = ContractKey(Underlying.NIFTY, SLOT.date() + timedelta(days=7), Decimal(25000),
                      OptionType.CE)  # fmt: skip
    child = ChildOrder(
        account_id="A1", broker="zerodha", leg=0, slice_no=0, side="SELL", key=key,
        exchange="NFO", lot_size=65, tick_size=Decimal("0.05"), quantity=quantity,
        limit_price=Decimal("100"), product="MIS", tag=f"T{order_id}",
    )  # fmt: skip
    item = store.new_order(uid, EXEC, "S1", "ENTRY", child, SLOT, order_id=order_id)
    item.status = status
    for name, value in fields.items():
        setattr(item, name, value)
    store.put_orders([item])
    return read(store, uid, order_id)


def read(store: Any, uid: str, order_id: str) -> Any:
    [found] = store.orders(uid, DAY, [order_id])
    return found


def test_the_gate_opens_once_and_again_only_for_its_own_token(store):
    uid = uuid.uuid4().hex
    first = store.open_execution(uid, DAY, "S1", "ENTRY", AT, "clock", token="t1")
    assert first is not None and first.status == "PLANNED"
    assert store.open_execution(uid, DAY, "S1", "ENTRY", AT, "clock", token="t1").sk == first.sk
    assert store.open_execution(uid, DAY, "S1", "ENTRY", AT, "other", token="t2") is None


def test_the_unwind_is_claimed_once(store):
    uid = uuid.uuid4().hex
    execution = store.open_execution(uid, DAY, "S1", "ENTRY", AT, "clock", token="t1")
    theirs = store.get_execution(uid, execution.sk)
    assert store.claim_unwind(execution, "u1")
    assert not store.claim_unwind(theirs, "u2") and theirs.unwind_token == "u1"
    assert store.claim_unwind(execution, "u1")  # a retried claim continues


def test_a_claim_is_taken_once_and_a_stale_read_is_refreshed(store):
    uid = uuid.uuid4().hex
    mine = _order(store, uid, "o1")
    theirs = read(store, uid, "o1")
    assert store.claim_order(mine, "f1", AT) and mine.status == lc.CLAIMED
    assert store.claim_order(mine, "f1", AT)  # the same claimer's retry
    assert not store.claim_order(theirs, "f2", AT)
    assert (theirs.status, theirs.claim_token) == (lc.CLAIMED, "f1")


def test_never_sent_is_refused_under_a_live_claim_and_taken_under_a_stale_one(store):
    uid = uuid.uuid4().hex
    order = _order(store, uid, "o1")
    assert store.claim_order(order, "f1", AT)
    error = {"kind": "never_sent", "code": "never_sent", "message": "absent"}
    live = lc.stale_claims_before(SLOT.astimezone(IST))  # the claim is younger than that
    assert not store.record_failed(order, lc.FAILED, error, at=AT, claimed_before=live)
    assert order.status == lc.CLAIMED
    stale = lc.stale_claims_before(SLOT + timedelta(minutes=5))
    assert store.record_failed(order, lc.FAILED, error, at=AT, claimed_before=stale)
    assert read(store, uid, "o1").status == lc.FAILED


def test_the_broker_ack_wins_over_never_sent_but_never_over_another_broker_id(store):
    uid = uuid.uuid4().hex
    order = _order(store, uid, "o1", status=lc.SENT, sent_at=AT)
    error = {"kind": "never_sent", "code": "never_sent", "message": "absent"}
    assert store.record_failed(order, lc.FAILED, error, at=AT)
    assert store.record_ack(order, "B1", sent_at=None, acked_at=AT, recovered=True)
    stored = read(store, uid, "o1")
    assert (stored.status, stored.broker_order_id, stored.error) == (lc.OPEN, "B1", None)
    assert not store.record_ack(read(store, uid, "o1"), "B2", sent_at=None, acked_at=AT)


def test_a_late_ack_from_a_stale_copy_keeps_what_the_sweep_recorded(store):
    """The firer holds the order as SENT; meanwhile the recovery sweep recorded it never sent.
    The firer's acknowledgement (from its stale copy) still wins, appends to the stored history
    (the sweep's line stays) and clears the sweep's error."""
    uid = uuid.uuid4().hex
    firers = _order(store, uid, "o1", status=lc.SENT, sent_at=AT)
    sweeps = read(store, uid, "o1")
    error = {"kind": "never_sent", "code": "never_sent", "message": "absent"}
    assert store.record_failed(sweeps, lc.FAILED, error, at=AT)
    assert firers.status == lc.SENT and not firers.history  # stale
    assert store.record_ack(firers, "B1", sent_at=None, acked_at=AT)
    stored = read(store, uid, "o1")
    assert (stored.status, stored.broker_order_id, stored.error) == (lc.OPEN, "B1", None)
    assert [entry["status"] for entry in stored.history] == [lc.FAILED, lc.OPEN]
    assert firers.history == stored.history  # the caller continues from the truth


def test_each_actor_s_line_reaches_the_history_whatever_copy_it_wrote_from(store):
    uid = uuid.uuid4().hex
    order = _order(store, uid, "o1")
    stale = read(store, uid, "o1")
    assert store.claim_order(order, "f1", AT)
    assert store.hold_back(order, "f1", "held", "the guard could not check", at=AT)
    assert store.cancel_unsent(stale, "f1", "flat", "nothing left to close", at=AT)
    stored = read(store, uid, "o1")
    assert stored.status == lc.CANCELLED
    assert [entry["message"] for entry in stored.history] == [
        "the guard could not check",
        "nothing left to close",
    ]


def test_a_closing_order_is_reopened_to_resend_once(store):
    uid = uuid.uuid4().hex
    order = _order(store, uid, "o1", status=lc.SENT, sent_at=AT)
    assert store.reopen_to_resend(order, "To1R", "absent", at=AT)
    stored = read(store, uid, "o1")
    assert (stored.status, stored.tag, stored.resent_from) == (lc.BUILT, "To1R", "To1")
    assert stored.request["tag"] == "To1R" and stored.sent_at is None
    assert store.claim_order(stored, "f2", AT)
    assert not store.reopen_to_resend(stored, "To1RR", "absent again", at=AT)


def test_missed_only_before_the_request_left(store):
    uid = uuid.uuid4().hex
    built = _order(store, uid, "o1")
    sent = _order(store, uid, "o2", status=lc.SENT, sent_at=AT)
    assert store.record_missed(built, "late", at=AT) and built.status == lc.MISSED
    assert not store.record_missed(sent, "late", at=AT) and sent.status == lc.SENT


def test_a_stale_status_never_takes_a_fill_back(store):
    uid = uuid.uuid4().hex
    order = _order(store, uid, "o1", status=lc.OPEN, broker_order_id="B1", quantity=130)
    stale = read(store, uid, "o1")
    order.status, order.filled_quantity, order.average_price = lc.PARTIAL, 130, "100"
    assert store.record_status(order)
    stale.status, stale.filled_quantity = lc.PARTIAL, 65
    assert not store.record_status(stale) and stale.filled_quantity == 130


def test_fills_reach_the_position_once_each_level(store):
    uid = uuid.uuid4().hex
    order = _order(store, uid, "o1", status=lc.PARTIAL, broker_order_id="B1", quantity=130)
    twin = read(store, uid, "o1")
    assert store.apply_fill(order, "NIFTY-X", {}, 65, Decimal("100"))
    assert not store.apply_fill(twin, "NIFTY-X", {}, 65, Decimal("100"))  # the same level
    assert twin.applied_quantity == 65
    order.status = lc.COMPLETE
    assert store.apply_fill(order, "NIFTY-X", {}, 130, Decimal("101"))
    assert not store.apply_fill(read(store, uid, "o1"), "NIFTY-X", {}, 65, Decimal("100"))
    [position] = store.positions(uid, "S1", consistent=True)
    assert position.net_quantity == -130 and Decimal(position.sell_value) == Decimal(13130)
    stored = read(store, uid, "o1")
    assert (stored.status, stored.applied, stored.applied_quantity) == (lc.COMPLETE, 1, 130)
    assert [f["quantity"] for f in stored.fills] == [65, 65]


def test_the_claimers_own_moves_need_its_claim(store):
    uid = uuid.uuid4().hex
    order = _order(store, uid, "o1")
    assert store.claim_order(order, "f1", AT)
    later = stamp(SLOT + timedelta(seconds=5))
    assert not store.renew_claim(read(store, uid, "o1"), "f2", at=later)
    assert store.renew_claim(order, "f1", at=later, request={**order.request, "quantity": 65})
    assert store.hold_back(order, "f1", "in_flight", "not now", at=later)
    held = read(store, uid, "o1")
    assert (held.status, held.error["code"], held.claimed_at) == (lc.CLAIMED, "in_flight", later)
    assert store.cancel_unsent(order, "f1", "already_closed", "nothing left", at=later)
    assert not store.hold_back(order, "f1", "in_flight", "not now", at=later)
    assert read(store, uid, "o1").status == lc.CANCELLED


def test_claimed_orders_are_stored_claimed_by_their_owner(store):
    uid = uuid.uuid4().hex
    key = ContractKey(Underlying.NIFTY, SLOT.date() + timedelta(days=7), Decimal(25000),
                      OptionType.CE)  # fmt: skip
    child = ChildOrder(
        account_id="A1", broker="zerodha", leg=0, slice_no=0, side="BUY", key=key,
        exchange="NFO", lot_size=65, tick_size=Decimal("0.05"), quantity=65,
        limit_price=Decimal("100"), product="MIS", tag="Tx1",
    )  # fmt: skip
    store.put_claimed([store.new_order(uid, EXEC, "S1", "EXIT", child, SLOT, order_id="x1")],
                      "exit-hook", at=AT)  # fmt: skip
    stored = read(store, uid, "x1")
    assert (stored.status, stored.claim_token, stored.claimed_at) == (
        lc.CLAIMED, "exit-hook:x1", AT)  # fmt: skip
    assert not store.claim_order(stored, "f1", AT)
    assert [o.order_id for o in store.unsettled_orders(uid, DAY)] == ["x1"]
