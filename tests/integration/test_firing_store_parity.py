"""The firing path's transitions on both stores (the DynamoDB execution store and the in-memory
one of the unit tier, as the firer's tests use it: ``tests/fakes/firing_store.py``): the same
script, the same answers, the same states. ``test_execution_store_contract.py`` holds the shared
contract (gate, claims, never-sent, resend, fills); these are the firing path's own cases beyond
it: an outcome unknown, a repeated acknowledgement, the write-ahead of ``order_sender``."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.adapters.dynamo.order_items import order_item
from chalicelib.domain import order_lifecycle as lc
from chalicelib.errors import DependencyUnavailable
from tests.fakes.firing import FakeNewOrders
from tests.fakes.firing_store import FiringExecutions
from tests.unit.engine.firing_rig import T, child

AT = T.isoformat()
ERROR = {"kind": "unavailable", "code": None, "message": "read timeout"}


@pytest.fixture(params=["fake", "dynamo"])
def store(request: pytest.FixtureRequest, container: Any) -> tuple[Any, Any]:
    """(the store, a function making a BUILT order record of it). ``container`` is requested
    here, not looked up inside: built first, it binds the table before the per-test guard of the
    platform's globals records what to put back."""
    if request.param == "fake":
        return FiringExecutions(), FakeNewOrders().new_order
    return container.executions, order_item


def built(store: tuple[Any, Any], tag: str) -> Any:
    executions, new_order = store
    uid = uuid.uuid4().hex
    order = new_order(uid, "EXEC#x", "s1", "ENTRY", child("a1", 0, "BUY", tag), T)
    executions.put_orders([order])
    return order


def test_an_outcome_unknown_and_a_repeated_ack_follow_the_lifecycle(store):
    executions, _ = store
    missed = built(store, "M0")
    assert executions.claim_order(missed, "f", AT)
    assert executions.record_missed(missed, "late", at=AT)
    assert not executions.record_unknown(missed, ERROR, at=AT)
    assert missed.status == lc.MISSED

    unknown = built(store, "U0")
    assert executions.claim_order(unknown, "f", AT)
    assert executions.record_unknown(unknown, ERROR, at=AT, sent_at=AT)
    assert not executions.record_missed(unknown, "late", at=AT)  # it may have left
    assert executions.record_ack(unknown, "B9", sent_at=AT, acked_at=AT)
    assert not executions.record_ack(unknown, "B10", sent_at=AT, acked_at=AT)  # another id
    assert executions.record_ack(unknown, "B9", sent_at=AT, acked_at=AT)  # the same ack again
    assert not executions.record_failed(unknown, lc.FAILED, ERROR, at=AT)
    assert unknown.status == lc.OPEN and unknown.broker_order_id == "B9"


def test_the_write_ahead_refuses_an_order_id_in_use(store):
    executions, new_order = store
    uid = uuid.uuid4().hex
    first = new_order(uid, "EXEC#x", "s1", "UNWIND", child("a1", 0, "SELL", "W0"), T, "same")
    executions.record_sent(first, AT)
    again = new_order(uid, "EXEC#x", "s1", "UNWIND", child("a1", 0, "SELL", "W0"), T, "same")
    executions.record_sent(again, AT)  # its own retried write: the same send
    other = new_order(uid, "EXEC#x", "s1", "UNWIND", child("a1", 0, "SELL", "W1"), T, "same")
    with pytest.raises(DependencyUnavailable):
        executions.record_sent(other, (T + timedelta(seconds=1)).isoformat())
    assert first.status == lc.SENT
