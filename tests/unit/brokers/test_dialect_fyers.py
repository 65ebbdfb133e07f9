"""Fyers v3 adapter: login / checksum / expiry, the order mapping, status enums, the
broker's real error bodies and quotes, over httpx.MockTransport."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chalicelib.adapters.brokers.fyers import FyersBroker, fyers_app_id_hash
from chalicelib.ports import broker_errors as errors
from chalicelib.ports.broker import OrderStatus, Side
from tests.unit.brokers.helpers import (
    INSTRUMENT,
    SL_SELL,
    Script,
    body,
    build,
    ok,
    order,
)


def test_fyers_app_id_hash_is_sha256_of_id_colon_secret():
    assert (
        fyers_app_id_hash("kitekey", "kitesecret")
        == "054fc9e343a3c18a4fe3f7b833e2d3da3a0c9951eb6e54954c6078b5bf1711ce"
    )


FYERS_ORDER = {
    "id": "24111600000001",
    "status": 6,
    "symbol": "NSE:NIFTY26N1723950CE",
    "side": 1,
    "qty": 130,
    "filledQty": 65,
    "tradedPrice": 101.1,
    "orderTag": "S1L1E0",
    "message": "",
}


def test_fyers_exchange_uses_app_id_hash_and_auth_header():
    script = (
        Script()
        .on(
            "POST",
            "/api/v3/validate-authcode",
            ok({"s": "ok", "code": 200, "message": "", "access_token": "fy-tok"}),
        )
        .on(
            "POST",
            "/api/v3/orders/sync",
            ok({"s": "ok", "code": 1101, "message": "Order submitted", "id": "24111600000001"}),
        )
    )
    session = build(FyersBroker, script, session=False).exchange_code("auth9")
    assert body(script.requests[0]) == {
        "grant_type": "authorization_code",
        "appIdHash": fyers_app_id_hash("kitekey", "kitesecret"),
        "code": "auth9",
    }
    assert session.access_token == "fy-tok"
    build(FyersBroker, script).place(order(**SL_SELL))
    sent = script.requests[-1]
    assert sent.headers["Authorization"] == "kitekey:tok123"
    assert body(sent) == {
        "symbol": "NSE:NIFTY26N1723950CE",
        "qty": 130,
        "type": 4,
        "side": -1,
        "productType": "INTRADAY",
        "limitPrice": 90.05,
        "stopPrice": 90.0,
        "validity": "DAY",
        "disclosedQty": 0,
        "offlineOrder": False,
        "orderTag": "S1L1E0",
    }


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        (1, OrderStatus.CANCELLED),
        (2, OrderStatus.COMPLETE),
        (4, OrderStatus.PENDING),
        (5, OrderStatus.REJECTED),
        (6, OrderStatus.OPEN),
        (7, OrderStatus.CANCELLED),
    ],
)
def test_fyers_status_codes(raw, canonical):
    script = Script().on(
        "GET", "/api/v3/orders", ok({"s": "ok", "orderBook": [dict(FYERS_ORDER, status=raw)]})
    )
    state = build(FyersBroker, script).status("24111600000001")
    assert state.status is canonical and state.side is Side.BUY


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (
            ok({"s": "error", "code": -16, "message": "Could not authenticate the user"}, 401),
            errors.AuthExpired,
        ),
        (ok({"s": "error", "code": -8, "message": "Your token has expired"}), errors.AuthExpired),
        (
            ok({"s": "error", "code": 429, "message": "request limit reached"}, 429),
            errors.RateLimited,
        ),
        (ok({"s": "error", "code": -50, "message": "Invalid input"}, 400), errors.InvalidOrder),
        (ok({"s": "error", "code": -99, "message": "RMS:Margin shortfall"}, 400), errors.Rejected),
        (ok({"s": "error", "code": -1, "message": "Gateway timeout"}, 504), errors.Unavailable),
    ],
)
def test_fyers_error_bodies(reply, expected):
    script = (
        Script()
        .on("POST", "/api/v3/orders/sync", reply)
        .on("GET", "/api/v3/orders", ok({"s": "ok", "orderBook": []}))
    )
    with pytest.raises(expected):
        build(FyersBroker, script, place_attempts=1).place(order())


def test_fyers_quotes_map_back_to_contracts():
    cls, method, path, reply = (
        FyersBroker,
        "GET",
        "/data/quotes",
        ok({"s": "ok", "d": [{"n": "NSE:NIFTY26N1723950CE", "s": "ok", "v": {"lp": 98.3}}]}),
    )
    script = Script().on(method, path, reply)
    assert build(cls, script).quotes([INSTRUMENT]) == {INSTRUMENT.key: Decimal("98.3")}, cls
