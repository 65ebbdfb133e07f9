"""Stop-loss orders end to end, every dialect: the real adapter places, modifies and cancels
SL_LIMIT orders on the fake broker over HTTP while the test drives the premium with
``SimExchange.set_price`` (a pinned price re-matches resting orders at once, so no clock moves).

The stop is the platform's: a BUY SL_LIMIT that closes a short, trigger above the LTP and the
limit a few ticks above the trigger.
"""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from chalicelib.ports.broker import (
    Modification,
    OrderRequest,
    OrderState,
    OrderStatus,
    OrderType,
    Product,
    Side,
)
from tests.integration.brokers.rigs import CLIENT, Rig, settle

ENTRY = Decimal("100.00")
TICKS = Decimal("0.25")  # the limit sits five ticks beyond the trigger


@pytest.fixture(autouse=True)
def _unhurried(rig: Rig) -> None:
    """Let each request look 0.15 s apart to the fake's 10/s window (Fyers counts reads too):
    these tests are about stops, not pacing, and must not depend on the machine's speed."""
    rig.server.monotonic = itertools.count(step=0.15).__next__


def stop(rig: Rig, trigger: str, *, side: Side = Side.BUY, tag: str) -> OrderRequest:
    """An SL_LIMIT of one lot: trigger ``trigger``, limit five ticks beyond it."""
    level = Decimal(trigger)
    limit = level + TICKS if side is Side.BUY else level - TICKS
    return OrderRequest(
        rig.instrument,
        side,
        rig.instrument.lot_size,
        Product.MIS,
        OrderType.SL_LIMIT,
        limit,
        tag,
        trigger=level,
    )


def pin(rig: Rig, price: str | None) -> None:
    rig.exchange.set_price(rig.instrument.key, None if price is None else Decimal(price))


def sell_short(rig: Rig) -> None:
    """Open the short the stop protects: a marketable SELL at the pinned entry."""
    entry = OrderRequest(
        rig.instrument,
        Side.SELL,
        rig.instrument.lot_size,
        Product.MIS,
        OrderType.LIMIT,
        ENTRY - Decimal("0.05"),
        "SHORT1",
    )
    assert settle(rig, rig.adapter.place(entry).order_id).status is OrderStatus.COMPLETE


def resting(rig: Rig, order_id: str) -> OrderState:
    state = settle(rig, order_id)
    assert state.status is OrderStatus.TRIGGER_PENDING, state
    assert state.filled_quantity == 0
    return state


def test_stop_loss_is_tightened_then_fills_when_the_price_crosses_its_trigger(rig: Rig):
    pin(rig, "100.00")
    sell_short(rig)
    request = stop(rig, "110.00", tag="SL1")
    ack = rig.adapter.place(request)
    resting(rig, ack.order_id)

    rig.adapter.modify(
        ack.order_id,
        Modification(price=Decimal("105.25"), trigger=Decimal("105.00")),
        request=request,
    )
    at_exchange = rig.exchange.order(CLIENT, ack.order_id)
    assert (at_exchange.trigger_price, at_exchange.price) == (Decimal("105.00"), Decimal("105.25"))
    assert at_exchange.history[-1]["message"] == "modified"
    resting(rig, ack.order_id)

    pin(rig, "104.95")  # one tick short of the new trigger: still waiting
    resting(rig, ack.order_id)
    pin(rig, "105.10")
    state = settle(rig, ack.order_id)
    assert state.status is OrderStatus.COMPLETE
    assert state.filled_quantity == request.quantity
    assert state.average_price is not None
    assert Decimal("105.00") <= state.average_price <= Decimal("105.25")
    assert state.tag == "SL1" and state.side is Side.BUY
    assert all(p.net_quantity == 0 for p in rig.adapter.positions())


def test_stop_loss_cancelled_by_the_broker_when_triggered(rig: Rig):
    pin(rig, "100.00")
    rig.server.inject(CLIENT, "sl_cancelled")
    ack = rig.adapter.place(stop(rig, "110.00", tag="SL2"))
    resting(rig, ack.order_id)

    pin(rig, "110.10")
    state = settle(rig, ack.order_id)
    assert state.status is OrderStatus.CANCELLED
    assert state.filled_quantity == 0
    assert "cancelled by the broker" in state.message
    assert not [t for t in rig.exchange.trades(CLIENT) if t.order_id == ack.order_id]


def test_trigger_pending_stops_are_listed_and_can_be_cancelled(rig: Rig):
    pin(rig, "100.00")
    buy = rig.adapter.place(stop(rig, "110.00", tag="SLB1"))
    sell = rig.adapter.place(stop(rig, "90.00", side=Side.SELL, tag="SLS1"))
    book = {s.order_id: s for s in rig.adapter.order_book()}
    assert {book[buy.order_id].tag, book[sell.order_id].tag} == {"SLB1", "SLS1"}
    assert book[buy.order_id].status is OrderStatus.TRIGGER_PENDING
    assert book[sell.order_id].status is OrderStatus.TRIGGER_PENDING
    assert book[sell.order_id].side is Side.SELL

    rig.adapter.cancel(buy.order_id)
    assert settle(rig, buy.order_id).status is OrderStatus.CANCELLED
    # A fresh adapter (no memory of the placement) cancels the other one too.
    fresh = type(rig.adapter)(rig.adapter.config)
    fresh.cancel(sell.order_id)
    assert settle(rig, sell.order_id).status is OrderStatus.CANCELLED
    pin(rig, "120.00")  # cancelled stops stay cancelled when the price runs through them
    assert {s.status for s in rig.adapter.order_book()} == {OrderStatus.CANCELLED}
    assert rig.exchange.trades(CLIENT) == []


def test_quotes_follow_a_pinned_price(rig: Rig):
    key = rig.instrument.key
    pin(rig, "123.45")
    assert rig.adapter.quotes([rig.instrument]) == {key: Decimal("123.45")}
    pin(rig, None)
    model = rig.exchange.ltp(key)
    assert model != Decimal("123.45")
    assert rig.adapter.quotes([rig.instrument]) == {key: model}
