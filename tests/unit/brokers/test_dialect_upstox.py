"""Upstox adapter: login / checksum / expiry, the order mapping, status enums, the
broker's real error bodies and quotes, over httpx.MockTransport."""

from __future__ import annotations

import gzip
from datetime import datetime
from decimal import Decimal
from urllib.parse import parse_qs, urlparse

import pytest

from chalicelib.adapters.brokers.upstox import UpstoxBroker
from chalicelib.ports import broker_errors as errors
from chalicelib.ports.broker import OrderStatus
from tests.unit.brokers.helpers import (
    INSTRUMENT,
    IST,
    SL_SELL,
    Script,
    body,
    build,
    form,
    ok,
    order,
    text,
)

UPSTOX_ORDER = {
    "order_id": "241116000001",
    "status": "open",
    "trading_symbol": "NIFTY 23950 CE 17 NOV 26",
    "transaction_type": "BUY",
    "quantity": 130,
    "filled_quantity": 0,
    "average_price": 0,
    "tag": "S1L1E0",
    "status_message": None,
}


def test_upstox_login_form_exchange_and_expiry():
    script = Script().on(
        "POST",
        "/v2/login/authorization/token",
        ok({"email": "a@b.in", "user_id": "AB1234", "access_token": "up-tok"}),
    )
    adapter = build(UpstoxBroker, script, session=False, now=datetime(2026, 11, 16, 9, tzinfo=IST))
    url = urlparse(adapter.login_url("s1"))
    assert url.path == "/v2/login/authorization/dialog"
    assert parse_qs(url.query)["state"] == ["s1"]
    session = adapter.exchange_code("c0de")
    assert form(script.requests[0]) == {
        "code": "c0de",
        "client_id": "kitekey",
        "client_secret": "kitesecret",
        "redirect_uri": "http://127.0.0.1:8000/callback",
        "grant_type": "authorization_code",
    }
    assert session.expires_at == datetime(2026, 11, 17, 3, 30, tzinfo=IST)


def test_upstox_place_v3_on_hft_host():
    script = Script().on(
        "POST",
        "/v3/order/place",
        ok(
            {
                "status": "success",
                "data": {"order_ids": ["241116000001"]},
                "metadata": {"latency": 9},
            }
        ),
    )
    ack = build(UpstoxBroker, script).place(order(**SL_SELL))
    sent = script.requests[0]
    assert ack.order_id == "241116000001" and sent.url.host == "api-hft.upstox.com"
    assert body(sent) == {
        "quantity": 130,
        "product": "I",
        "validity": "DAY",
        "price": 90.05,
        "tag": "S1L1E0",
        "instrument_token": "NSE_FO|45450",
        "order_type": "SL",
        "transaction_type": "SELL",
        "disclosed_quantity": 0,
        "trigger_price": 90.0,
        "is_amo": False,
        "slice": False,
    }


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("open", OrderStatus.OPEN),
        ("complete", OrderStatus.COMPLETE),
        ("rejected", OrderStatus.REJECTED),
        ("cancelled", OrderStatus.CANCELLED),
        ("trigger pending", OrderStatus.TRIGGER_PENDING),
        ("put order req received", OrderStatus.PENDING),
        ("validation pending", OrderStatus.PENDING),
    ],
)
def test_upstox_status_mapping(raw, canonical):
    script = Script().on(
        "GET",
        "/v2/order/details",
        ok({"status": "success", "data": dict(UPSTOX_ORDER, status=raw)}),
    )
    assert build(UpstoxBroker, script).status("241116000001").status is canonical
    assert script.requests[0].url.params["order_id"] == "241116000001"


def _upstox_err(status, code, message):
    return ok(
        {
            "status": "error",
            "errors": [
                {"errorCode": code, "message": message, "propertyPath": None, "invalidValue": None}
            ],
        },
        status,
    )


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (_upstox_err(401, "UDAPI100050", "Invalid token used to access API"), errors.AuthExpired),
        (_upstox_err(429, "UDAPI10005", "Too Many Request Sent"), errors.RateLimited),
        (_upstox_err(400, "UDAPI1026", "Instrument key is invalid"), errors.InvalidOrder),
        (_upstox_err(500, "UDAPI100500", "Something went wrong"), errors.Unavailable),
        (
            _upstox_err(403, "UDAPI100074", "Request from a non-whitelisted IP address"),
            errors.IpNotAllowed,
        ),
    ],
)
def test_upstox_error_bodies(reply, expected):
    script = (
        Script()
        .on("POST", "/v3/order/place", reply)
        .on("GET", "/v2/order/retrieve-all", ok({"status": "success", "data": []}))
    )
    with pytest.raises(expected) as caught:
        build(UpstoxBroker, script, place_attempts=1).place(order())
    assert type(caught.value) is expected and caught.value.code


def test_upstox_master_is_gunzipped():
    script = Script().on(
        "GET",
        "/market-quote/instruments/exchange/complete.json.gz",
        text(200, "").__class__(200, content=gzip.compress(b"[]")),
    )
    assert build(UpstoxBroker, script).instruments() == b"[]"


def test_upstox_quotes_map_back_to_contracts():
    cls, method, path, reply = (
        UpstoxBroker,
        "GET",
        "/v2/market-quote/ltp",
        ok(
            {
                "status": "success",
                "data": {
                    "NSE_FO:NIFTY26N1723950CE": {
                        "last_price": 98.3,
                        "instrument_token": "NSE_FO|45450",
                    }
                },
            }
        ),
    )
    script = Script().on(method, path, reply)
    assert build(cls, script).quotes([INSTRUMENT]) == {INSTRUMENT.key: Decimal("98.3")}, cls
