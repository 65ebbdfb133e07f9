"""Angel One SmartAPI adapter: login / checksum / expiry, the order mapping, status enums, the
broker's real error bodies and quotes, over httpx.MockTransport."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from chalicelib.adapters.brokers.angel import AngelBroker
from chalicelib.ports import broker_errors as errors
from chalicelib.ports.broker import OrderStatus
from tests.unit.brokers.helpers import (
    INSTRUMENT,
    IST,
    SL_SELL,
    Script,
    body,
    build,
    ok,
    order,
    text,
)

ANGEL_ORDER = {
    "orderid": "2411160001",
    "uniqueorderid": "u-1",
    "status": "open",
    "tradingsymbol": "NIFTY17NOV2623950CE",
    "transactiontype": "BUY",
    "quantity": "130",
    "filledshares": "65",
    "averageprice": 101.05,
    "ordertag": "S1L1E0",
    "text": "",
}


def test_angel_login_and_place_mapping():
    script = (
        Script()
        .on(
            "POST",
            "/rest/auth/angelbroking/user/v1/loginByPassword",
            ok(
                {
                    "status": True,
                    "message": "SUCCESS",
                    "errorcode": "",
                    "data": {"jwtToken": "Bearer jwt1", "refreshToken": "r", "feedToken": "f"},
                }
            ),
        )
        .on(
            "POST",
            "/rest/secure/angelbroking/order/v1/placeOrder",
            ok(
                {
                    "status": True,
                    "message": "SUCCESS",
                    "errorcode": "",
                    "data": {"script": "x", "orderid": "2411160001", "uniqueorderid": "u-1"},
                }
            ),
        )
    )
    issued = datetime(2026, 11, 16, 8, 0, tzinfo=IST)
    session = build(AngelBroker, script, session=False, now=issued).exchange_code("123456")
    assert session.access_token == "jwt1"
    assert session.expires_at == datetime(2026, 11, 17, 5, 0, tzinfo=IST)
    assert body(script.requests[0]) == {
        "clientcode": "AB1234",
        "password": "1234",
        "totp": "123456",
    }
    assert script.requests[0].headers["X-PrivateKey"] == "kitekey"

    ack = build(AngelBroker, script).place(order(**SL_SELL))
    sent = script.requests[-1]
    assert ack.order_id == "2411160001"
    assert sent.headers["Authorization"] == "Bearer tok123"
    assert body(sent) == {
        "variety": "STOPLOSS",
        "tradingsymbol": "NIFTY17NOV2623950CE",
        "symboltoken": "45450",
        "transactiontype": "SELL",
        "exchange": "NFO",
        "ordertype": "STOPLOSS_LIMIT",
        "producttype": "INTRADAY",
        "duration": "DAY",
        "price": "90.05",
        "triggerprice": "90.00",
        "quantity": "130",
        "ordertag": "S1L1E0",
    }


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("open", OrderStatus.OPEN),
        ("complete", OrderStatus.COMPLETE),
        ("rejected", OrderStatus.REJECTED),
        ("cancelled", OrderStatus.CANCELLED),
        ("trigger pending", OrderStatus.TRIGGER_PENDING),
        ("validation pending", OrderStatus.PENDING),
        ("open pending", OrderStatus.PENDING),
        ("after market order req received", OrderStatus.PENDING),
    ],
)
def test_angel_status_mapping(raw, canonical):
    script = Script().on(
        "GET",
        "/rest/secure/angelbroking/order/v1/getOrderBook",
        ok({"status": True, "message": "SUCCESS", "data": [dict(ANGEL_ORDER, status=raw)]}),
    )
    state = build(AngelBroker, script).status("2411160001")
    assert state.status is canonical
    assert (state.filled_quantity, state.average_price) == (65, Decimal("101.05"))


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (
            ok({"status": False, "message": "Invalid Token", "errorcode": "AG8001", "data": None}),
            errors.AuthExpired,
        ),
        (
            ok({"status": False, "message": "Token Expired", "errorcode": "AG8002", "data": None}),
            errors.AuthExpired,
        ),
        (text(403, "Access denied because of exceeding access rate"), errors.RateLimited),
        (
            ok(
                {
                    "status": False,
                    "message": "Something Went Wrong, Please Try After Sometime",
                    "errorcode": "AB1004",
                    "data": None,
                }
            ),
            errors.Unavailable,
        ),
        (
            ok(
                {
                    "status": False,
                    "message": "Invalid Symbol Token",
                    "errorcode": "AB1009",
                    "data": None,
                }
            ),
            errors.InvalidOrder,
        ),
        (
            ok(
                {
                    "status": False,
                    "message": "Your IP is not whitelisted",
                    "errorcode": "AB1050",
                    "data": None,
                }
            ),
            errors.IpNotAllowed,
        ),
        (
            ok(
                {
                    "status": False,
                    "message": "RMS: Insufficient margin",
                    "errorcode": "AB4000",
                    "data": None,
                }
            ),
            errors.Rejected,
        ),
    ],
)
def test_angel_error_bodies(reply, expected):
    script = (
        Script()
        .on("POST", "/rest/secure/angelbroking/order/v1/placeOrder", reply)
        .on(
            "GET",
            "/rest/secure/angelbroking/order/v1/getOrderBook",
            ok({"status": True, "data": None}),
        )
    )
    with pytest.raises(expected) as caught:
        build(AngelBroker, script, place_attempts=1).place(order())
    assert type(caught.value) is expected


def test_angel_quotes_map_back_to_contracts():
    cls, method, path, reply = (
        AngelBroker,
        "POST",
        "/rest/secure/angelbroking/market/v1/quote/",
        ok(
            {
                "status": True,
                "data": {
                    "fetched": [{"exchange": "NFO", "symbolToken": "45450", "ltp": 98.3}],
                    "unfetched": [],
                },
            }
        ),
    )
    script = Script().on(method, path, reply)
    assert build(cls, script).quotes([INSTRUMENT]) == {INSTRUMENT.key: Decimal("98.3")}, cls
