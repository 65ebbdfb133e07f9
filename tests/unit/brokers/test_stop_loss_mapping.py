"""Stop-loss specifics of the dialects, over httpx.MockTransport: Angel's STOPLOSS variety on
modify and cancel, and the trigger-pending state Fyers and Dhan only imply (no status of their
own for it)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chalicelib.adapters.brokers.angel import AngelBroker
from chalicelib.adapters.brokers.dhan import DhanBroker
from chalicelib.adapters.brokers.fyers import FyersBroker
from chalicelib.ports.broker import Modification, OrderStatus, OrderType, Side
from tests.unit.brokers.helpers import Script, body, build, ok, order

ANGEL = "/rest/secure/angelbroking/order/v1"
SL_BUY = {"order_type": OrderType.SL_LIMIT, "price": "110.25", "trigger": "110.00"}


def angel_ack(order_id: str = "2411160001"):
    return ok(
        {"status": True, "message": "SUCCESS", "errorcode": "", "data": {"orderid": order_id}}
    )


def test_angel_modifies_and_cancels_a_stop_in_its_stoploss_variety():
    script = (
        Script()
        .on("POST", f"{ANGEL}/placeOrder", angel_ack())
        .on("POST", f"{ANGEL}/modifyOrder", angel_ack())
        .on("POST", f"{ANGEL}/cancelOrder", angel_ack())
    )
    adapter = build(AngelBroker, script)
    request = order(**SL_BUY)
    ack = adapter.place(request)
    adapter.modify(ack.order_id, Modification(trigger=Decimal("105.00")), request=request)
    adapter.cancel(ack.order_id)
    sent = [body(r) for r in script.requests]
    assert [s["variety"] for s in sent] == ["STOPLOSS", "STOPLOSS", "STOPLOSS"]
    assert (sent[1]["ordertype"], sent[1]["triggerprice"], sent[1]["price"]) == (
        "STOPLOSS_LIMIT",
        "105.00",
        "110.25",
    )
    assert script.paths()[-1] == f"POST {ANGEL}/cancelOrder"  # remembered: no book lookup


@pytest.mark.parametrize(("variety", "sent"), [("STOPLOSS", "STOPLOSS"), ("NORMAL", "NORMAL")])
def test_angel_looks_up_the_variety_of_an_order_it_did_not_place(variety, sent):
    book = {
        "status": True,
        "data": [
            {"orderid": "1", "variety": "NORMAL"},
            {"orderid": "2411160009", "variety": variety},
        ],
    }
    script = (
        Script()
        .on("GET", f"{ANGEL}/getOrderBook", ok(book))
        .on("POST", f"{ANGEL}/cancelOrder", angel_ack("2411160009"))
    )
    build(AngelBroker, script).cancel("2411160009")
    assert body(script.calls("POST", f"{ANGEL}/cancelOrder")[0]) == {
        "variety": sent,
        "orderid": "2411160009",
    }


FYERS_STOP = {
    "id": "24111600000002",
    "status": 6,
    "type": 4,
    "side": 1,
    "qty": 65,
    "filledQty": 0,
    "limitPrice": 110.25,
    "stopPrice": 110.0,
    "symbol": "NSE:NIFTY26N1723950CE",
    "orderTag": "SL1",
    "message": "",
}


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ({"lp": 100.0}, OrderStatus.TRIGGER_PENDING),
        ({}, OrderStatus.TRIGGER_PENDING),  # no last price in the row: still waiting
        ({"lp": 110.0}, OrderStatus.OPEN),  # at the stop: the exchange has triggered it
        ({"lp": 112.0}, OrderStatus.OPEN),
        ({"lp": 100.0, "filledQty": 65, "status": 2}, OrderStatus.COMPLETE),
        ({"lp": 100.0, "filledQty": 0, "status": 1}, OrderStatus.CANCELLED),
        ({"lp": 100.0, "type": 1}, OrderStatus.OPEN),  # a resting limit
        ({"lp": 95.0, "side": -1, "stopPrice": 90.0}, OrderStatus.TRIGGER_PENDING),
        ({"lp": 89.0, "side": -1, "stopPrice": 90.0}, OrderStatus.OPEN),
    ],
)
def test_fyers_pending_stop_is_trigger_pending_until_the_price_reaches_it(row, expected):
    script = Script().on("GET", "/api/v3/orders", ok({"s": "ok", "orderBook": [FYERS_STOP | row]}))
    adapter = build(FyersBroker, script)
    assert adapter.status("24111600000002").status is expected
    assert [s.status for s in adapter.order_book()] == [expected]


DHAN_STOP = {
    "orderId": "112111182199",
    "orderStatus": "PENDING",
    "orderType": "STOP_LOSS",
    "transactionType": "BUY",
    "quantity": 65,
    "filledQty": 0,
    "price": 110.25,
    "triggerPrice": 110.0,
    "correlationId": "SL1",
    "omsErrorDescription": "",
}


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ({}, OrderStatus.TRIGGER_PENDING),
        ({"orderType": "STOP_LOSS_MARKET"}, OrderStatus.TRIGGER_PENDING),
        ({"orderType": "LIMIT"}, OrderStatus.OPEN),
        ({"orderStatus": "PART_TRADED", "filledQty": 65}, OrderStatus.OPEN),
        ({"orderStatus": "TRIGGERED"}, OrderStatus.OPEN),
        ({"orderStatus": "TRADED", "filledQty": 65}, OrderStatus.COMPLETE),
        (
            {"orderStatus": "CANCELLED", "omsErrorDescription": "SL cancelled by RMS"},
            OrderStatus.CANCELLED,
        ),
    ],
)
def test_dhan_pending_stop_is_trigger_pending(row, expected):
    script = Script().on("GET", "/v2/orders/112111182199", ok(DHAN_STOP | row))
    state = build(DhanBroker, script).status("112111182199")
    assert state.status is expected and state.side is Side.BUY
    assert state.message == (row.get("omsErrorDescription") or "")
