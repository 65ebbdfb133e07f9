"""Angel, Upstox, Fyers, Dhan and Noren: login / checksum / expiry, the order mapping, status
enums and each broker's real error bodies, over httpx.MockTransport."""

from __future__ import annotations

import gzip
import json
from datetime import datetime
from decimal import Decimal
from urllib.parse import parse_qs, unquote, urlparse

import pytest

from chalicelib.adapters.brokers.angel import AngelBroker
from chalicelib.adapters.brokers.dhan import DhanBroker
from chalicelib.adapters.brokers.fyers import FyersBroker, fyers_app_id_hash
from chalicelib.adapters.brokers.noren import ShoonyaBroker, ZebuBroker, noren_checksum
from chalicelib.adapters.brokers.upstox import UpstoxBroker
from chalicelib.ports import broker_errors as errors
from chalicelib.ports.broker import OrderStatus, OrderType, Side
from tests.unit.brokers.helpers import (
    INSTRUMENT,
    IST,
    Script,
    body,
    build,
    form,
    ok,
    order,
    text,
)

SL_SELL = {
    "side": Side.SELL,
    "order_type": OrderType.SL_LIMIT,
    "price": "90.05",
    "trigger": "90.00",
}


def noren_data(request) -> dict:
    raw = request.content.decode()
    assert raw.startswith("jData=")
    return json.loads(raw.removeprefix("jData="))


# ------------------------------------------------------------------------------- checksums
def test_fyers_app_id_hash_is_sha256_of_id_colon_secret():
    assert (
        fyers_app_id_hash("kitekey", "kitesecret")
        == "054fc9e343a3c18a4fe3f7b833e2d3da3a0c9951eb6e54954c6078b5bf1711ce"
    )


def test_noren_checksum_is_sha256_of_client_secret_code():
    assert (
        noren_checksum("kitekey", "kitesecret", "code9")
        == "41dc1b44a31dc58d2022c8370af8f6150303986da44ecbb3118aa81663f53c60"
    )


# ------------------------------------------------------------------------------- Angel
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


# ------------------------------------------------------------------------------- Upstox
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


# ------------------------------------------------------------------------------- Fyers
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


# ------------------------------------------------------------------------------- Dhan
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


# ------------------------------------------------------------------------------- Noren
NOREN_ORDER = {
    "stat": "Ok",
    "norenordno": "24111600000123",
    "status": "OPEN",
    "tsym": "NIFTY17NOV26C23950",
    "trantype": "B",
    "qty": "130",
    "fillshares": "65",
    "avgprc": "101.05",
    "remarks": "S1L1E0",
}


@pytest.mark.parametrize("cls", [ShoonyaBroker, ZebuBroker])
def test_noren_oauth_exchange_and_jdata_place(cls):
    script = (
        Script()
        .on(
            "POST",
            "/NorenWClientAPI/GenAcsTok",
            ok({"stat": "Ok", "access_token": "nr-tok", "uid": "AB1234"}),
        )
        .on(
            "POST",
            "/NorenWClientAPI/PlaceOrder",
            ok(
                {
                    "request_time": "09:20:00 16-11-2026",
                    "stat": "Ok",
                    "norenordno": "24111600000123",
                }
            ),
        )
    )
    adapter = build(cls, script, session=False)
    assert unquote(adapter.login_url("s")).count("client_id=kitekey") == 1
    session = adapter.exchange_code("code9")
    assert noren_data(script.requests[0]) == {
        "code": "code9",
        "checksum": noren_checksum("kitekey", "kitesecret", "code9"),
    }
    assert session.access_token == "nr-tok"
    build(cls, script).place(order(**SL_SELL))
    sent = script.requests[-1]
    assert sent.url.host == ("api.shoonya.com" if cls is ShoonyaBroker else "go.mynt.in")
    assert sent.headers["Authorization"] == "Bearer tok123"
    assert noren_data(sent) == {
        "uid": "AB1234",
        "actid": "AB1234",
        "exch": "NFO",
        "tsym": "NIFTY17NOV26C23950",
        "qty": "130",
        "prc": "90.05",
        "prd": "I",
        "trantype": "S",
        "prctyp": "SL-LMT",
        "ret": "DAY",
        "remarks": "S1L1E0",
        "ordersource": "API",
        "dscqty": "0",
        "trgprc": "90.00",
    }


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("OPEN", OrderStatus.OPEN),
        ("COMPLETE", OrderStatus.COMPLETE),
        ("CANCELED", OrderStatus.CANCELLED),
        ("REJECTED", OrderStatus.REJECTED),
        ("TRIGGER_PENDING", OrderStatus.TRIGGER_PENDING),
        ("PENDING", OrderStatus.PENDING),
    ],
)
def test_noren_status_uses_newest_history_entry(raw, canonical):
    history = [dict(NOREN_ORDER, status=raw), dict(NOREN_ORDER, status="PENDING")]
    script = Script().on("POST", "/NorenWClientAPI/SingleOrdHist", ok(history))
    state = build(ShoonyaBroker, script).status("24111600000123")
    assert state.status is canonical and state.side is Side.BUY and state.filled_quantity == 65


def test_noren_empty_order_book_is_no_data():
    script = Script().on(
        "POST",
        "/NorenWClientAPI/OrderBook",
        ok({"stat": "Not_Ok", "emsg": 'Error Occurred : 5 "no data"'}),
    )
    assert build(ShoonyaBroker, script).order_book() == []


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (
            ok({"stat": "Not_Ok", "emsg": "Session Expired :  Invalid Session Key"}),
            errors.AuthExpired,
        ),
        (ok({"stat": "Not_Ok", "emsg": "Invalid Input : Invalid Price"}), errors.InvalidOrder),
        (
            ok({"stat": "Not_Ok", "emsg": "RMS:Margin Exceeds,Required:1000, Available:10"}),
            errors.Rejected,
        ),
        (
            ok({"stat": "Not_Ok", "emsg": "Request not allowed from this IP, whitelist it"}),
            errors.IpNotAllowed,
        ),
        (text(429, "Too Many Requests"), errors.RateLimited),
        (text(502, "Bad Gateway"), errors.Unavailable),
    ],
)
def test_noren_error_bodies(reply, expected):
    script = (
        Script()
        .on("POST", "/NorenWClientAPI/PlaceOrder", reply)
        .on("POST", "/NorenWClientAPI/OrderBook", ok({"stat": "Not_Ok", "emsg": "no data"}))
    )
    with pytest.raises(expected):
        build(ShoonyaBroker, script, place_attempts=1).place(order())


def test_quotes_map_back_to_contracts_in_every_dialect():
    cases = [
        (
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
        ),
        (
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
        ),
        (
            FyersBroker,
            "GET",
            "/data/quotes",
            ok({"s": "ok", "d": [{"n": "NSE:NIFTY26N1723950CE", "s": "ok", "v": {"lp": 98.3}}]}),
        ),
        (
            DhanBroker,
            "POST",
            "/v2/marketfeed/ltp",
            ok({"status": "success", "data": {"NSE_FNO": {"45450": {"last_price": 98.3}}}}),
        ),
        (ShoonyaBroker, "POST", "/NorenWClientAPI/GetQuotes", ok({"stat": "Ok", "lp": "98.30"})),
    ]
    for cls, method, path, reply in cases:
        script = Script().on(method, path, reply)
        assert build(cls, script).quotes([INSTRUMENT]) == {INSTRUMENT.key: Decimal("98.3")}, cls
