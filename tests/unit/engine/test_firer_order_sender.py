"""``order_sender.send`` (exits, unwinds, square-offs) on the fake store: written ahead, then the
broker's answer as a lifecycle state; a crash between the two leaves an order recovery can find."""

from __future__ import annotations

import pytest

from chalicelib.domain import order_lifecycle as lc
from chalicelib.domain.market_model import MarketModel
from chalicelib.errors import DependencyUnavailable
from chalicelib.ports.broker_errors import IpNotAllowed, Rejected, Unavailable
from chalicelib.services.order_sender import send
from tests.fakes.firing import FakeNewOrders, ScriptedBroker
from tests.fakes.firing_store import FiringExecutions
from tests.unit.engine.firing_rig import UID, T, child


def order(tag: str, order_id: str | None = None):
    return FakeNewOrders().new_order(
        UID, "EXEC#x", "s1", "UNWIND", child("a1", 0, "SELL", tag), T, order_id=order_id
    )


def sent(tag: str, broker: ScriptedBroker, store: FiringExecutions, **kw):
    item = order(tag)
    return item, send(broker, item, MarketModel(), store, lambda: T, **kw)


def test_an_acknowledged_order_is_written_ahead_then_open():
    store, broker = FiringExecutions(), ScriptedBroker()
    item, result = sent("U0", broker, store)
    assert result is item and broker.placed == ["U0"]
    stored = store.stored(item)
    assert stored.status == lc.OPEN and stored.broker_order_id == "B1"
    assert stored.sent_at == T.isoformat(timespec="milliseconds")


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (Rejected("insufficient margin"), lc.REJECTED),
        (Unavailable("connection refused", sent=False), lc.FAILED),
        (IpNotAllowed("not whitelisted"), lc.FAILED),
        (Unavailable("read timeout", sent=True), lc.UNKNOWN),
        (ValueError("malformed reply"), lc.UNKNOWN),
    ],
)
def test_a_refusal_or_a_failure_is_recorded_never_raised(error, status):
    store, broker = FiringExecutions(), ScriptedBroker(errors={"U0": error})
    item, _ = sent("U0", broker, store)
    assert store.stored(item).status == status and broker.placed == ["U0"]


def test_a_crash_after_the_send_leaves_a_sent_order_for_recovery():
    store, broker = FiringExecutions(), ScriptedBroker()

    def crash(step, _order):
        if step == "after_send":
            raise SystemExit("killed")

    item = order("U0")
    with pytest.raises(SystemExit):
        send(broker, item, MarketModel(), store, lambda: T, checkpoint=crash)
    assert broker.placed == ["U0"] and store.stored(item).status == lc.SENT


def test_an_order_id_already_in_use_is_never_sent():
    store, broker = FiringExecutions(), ScriptedBroker()
    first = order("U0", order_id="same")
    send(broker, first, MarketModel(), store, lambda: T)
    with pytest.raises(DependencyUnavailable):
        send(broker, order("U1", order_id="same"), MarketModel(), store, lambda: T)
    assert broker.placed == ["U0"]


def test_a_storage_outage_before_the_write_ahead_sends_nothing():
    store, broker = FiringExecutions(), ScriptedBroker()
    store.fail("record_sent", DependencyUnavailable("table unavailable"))
    with pytest.raises(DependencyUnavailable):
        sent("U0", broker, store)
    assert broker.placed == []
