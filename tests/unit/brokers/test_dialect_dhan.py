"""Dhan v2 adapter: login / checksum / expiry, the order mapping, status enums, the
broker's real error bodies and quotes, over httpx.MockTransport."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from urllib.parse import parse_qs, urlparse

import pytest

from chalicelib.adapters.brokers.dhan import DhanBroker
from chalicelib.ports import broker_errors as errors
from chalicelib.ports.broker import OrderStatus
from tests.unit.brokers.helpers import (
    INSTRUMENT,
    IST,
    Script,
    body,
    build,
    ok,
    order,
    text,
)

DHAN_ORDER = {
    "orderId": "112111182198",
    "orderStatus": "PART_TRADED",
    "tradingSymbol": "NIFTY-Nov2026-23950-CE",
    "transactionType": "BUY",
    "quantity": 130,
    "filledQty": 65,
    "averageTradedPrice": 101.05,
    "correlationId": "S1L1E0",
    "omsErrorDescription": "",
}


def test_dhan_consent_login_and_broker_expiry():
    script = (
        Script()
        .on(
            "POST",
            "/app/generate-consent",
            ok({"consentAppId": "c-1", "consentAppStatus": "GENERATED"}),
        )
        .on(
            "GET",
            "/app/consumeApp-consent",
            ok(
                {
                    "dhanClientId": "1000000001",
                    "accessToken": "dh-tok",
                    "expiryTime": "2026-11-17T09:00:00",
                }
            ),
        )
    )
    adapter = build(DhanBroker, script, session=False)
    assert parse_qs(urlparse(adapter.login_url("s")).query)["consentAppId"] == ["c-1"]
    assert script.requests[0].headers["app_id"] == "kitekey"
    session = adapter.exchange_code("tok-id")
    assert script.requests[1].url.params["tokenId"] == "tok-id"
    assert session.expires_at == datetime(2026, 11, 17, 9, 0, tzinfo=IST)


def test_dhan_place_and_tag_lookup_by_correlation_id():
    script = (
        Script()
        .on("POST", "/v2/orders", text(503, "Service Unavailable"))
        .on("GET", "/v2/orders/external/S1L1E0", ok([DHAN_ORDER]))
    )
    ack = build(DhanBroker, script).place(order())
    assert ack.recovered and ack.order_id == "112111182198"
    assert body(script.requests[0]) == {
        "dhanClientId": "AB1234",
        "correlationId": "S1L1E0",
        "transactionType": "BUY",
        "exchangeSegment": "NSE_FNO",
        "productType": "INTRADAY",
        "orderType": "LIMIT",
        "validity": "DAY",
        "securityId": "45450",
        "quantity": 130,
        "disclosedQuantity": 0,
        "price": 101.15,
        "triggerPrice": 0.0,
        "afterMarketOrder": False,
    }
    assert script.requests[0].headers["access-token"] == "tok123"


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("TRANSIT", OrderStatus.PENDING),
        ("PENDING", OrderStatus.OPEN),
        ("PART_TRADED", OrderStatus.OPEN),
        ("TRADED", OrderStatus.COMPLETE),
        ("REJECTED", OrderStatus.REJECTED),
        ("CANCELLED", OrderStatus.CANCELLED),
        ("EXPIRED", OrderStatus.CANCELLED),
    ],
)
def test_dhan_status_mapping(raw, canonical):
    script = Script().on("GET", "/v2/orders/1", ok(dict(DHAN_ORDER, orderStatus=raw)))
    assert build(DhanBroker, script).status("1").status is canonical


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (
            ok(
                {
                    "errorType": "Invalid_Authentication",
                    "errorCode": "DH-901",
                    "errorMessage": "Client ID or user generated access token is invalid or expired.",
                },
                401,
            ),
            errors.AuthExpired,
        ),
        (
            ok(
                {
                    "errorType": "Rate_Limit",
                    "errorCode": "DH-904",
                    "errorMessage": "Too many requests on server from single user breaching rate limits.",
                },
                429,
            ),
            errors.RateLimited,
        ),
        (
            ok(
                {
                    "errorType": "Input_Exception",
                    "errorCode": "DH-905",
                    "errorMessage": "Missing required fields, bad values for parameters etc.",
                },
                400,
            ),
            errors.InvalidOrder,
        ),
        (
            ok(
                {
                    "errorType": "Order_Error",
                    "errorCode": "DH-906",
                    "errorMessage": "Incorrect request for order and cannot be processed.",
                },
                400,
            ),
            errors.Rejected,
        ),
        (
            ok(
                {
                    "errorType": "Internal_Server_Error",
                    "errorCode": "DH-908",
                    "errorMessage": "Server was not able to process API request.",
                },
                500,
            ),
            errors.Unavailable,
        ),
        (
            ok(
                {
                    "errorType": "Invalid_Access",
                    "errorCode": "DH-902",
                    "errorMessage": "Static IP not registered for this client",
                },
                403,
            ),
            errors.IpNotAllowed,
        ),
    ],
)
def test_dhan_error_bodies(reply, expected):
    script = (
        Script().on("POST", "/v2/orders", reply).on("GET", "/v2/orders/external/S1L1E0", ok([]))
    )
    with pytest.raises(expected):
        build(DhanBroker, script, place_attempts=1).place(order())


def test_dhan_quotes_map_back_to_contracts():
    cls, method, path, reply = (
        DhanBroker,
        "POST",
        "/v2/marketfeed/ltp",
        ok({"status": "success", "data": {"NSE_FNO": {"45450": {"last_price": 98.3}}}}),
    )
    script = Script().on(method, path, reply)
    assert build(cls, script).quotes([INSTRUMENT]) == {INSTRUMENT.key: Decimal("98.3")}, cls
