"""The fake Dhan v2 server: consent login, orders, master, faults in Dhan's error shape."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import parse_qs, urlparse

import pytest

from chalicelib.domain.masters import parse_dhan_master

APP, SECRET, CLIENT = "dhanapp", "dhansecret", "1000000001"


def login(http, server) -> dict[str, str]:
    server.register_app(APP, SECRET, CLIENT, "http://127.0.0.1:1/cb")
    keys = {"app_id": APP, "app_secret": SECRET}
    consent = http.post(
        f"{server.login_url_base}/app/generate-consent",
        params={"client_id": CLIENT},
        headers=keys,
    ).json()
    assert consent["status"] == "success"
    browser = http.get(
        f"{server.login_url_base}/login/consentApp-login",
        params={"consentAppId": consent["consentAppId"]},
    )
    token_id = parse_qs(urlparse(browser.headers["Location"]).query)["tokenId"][0]
    reply = http.get(
        f"{server.login_url_base}/app/consumeApp-consent",
        params={"tokenId": token_id},
        headers=keys,
    )
    assert reply.status_code == 200, reply.text
    return {"access-token": reply.json()["accessToken"], "client-id": CLIENT}


@pytest.fixture
def dhan(start_server):
    return start_server("dhan")


@pytest.fixture
def auth(http, dhan):
    return login(http, dhan)


def atm(http, dhan):
    master = parse_dhan_master(http.get(f"{dhan.base_url}/api-data/api-scrip-master.csv").content)
    spot = dhan.exchange.spot("NIFTY")
    nearest = min(master, key=lambda i: (i.expiry, abs(i.strike - spot)))
    return nearest.refs["dhan"].token, float(dhan.exchange.ltp(nearest.key))


def order_body(security_id, price, **extra):
    return {
        "dhanClientId": CLIENT,
        "transactionType": "BUY",
        "exchangeSegment": "NSE_FNO",
        "productType": "MARGIN",
        "orderType": "LIMIT",
        "validity": "DAY",
        "securityId": security_id,
        "quantity": 65,
        "price": price,
        "triggerPrice": 0,
        **extra,
    }


def test_wrong_secret_is_refused(http, dhan):
    dhan.register_app(APP, SECRET, CLIENT, "http://127.0.0.1:1/cb")
    reply = http.post(
        f"{dhan.login_url_base}/app/generate-consent",
        params={"client_id": CLIENT},
        headers={"app_id": APP, "app_secret": "nope"},
    )
    assert reply.status_code == 401


def test_token_lives_24_hours(http, dhan, auth, clock):
    clock.advance(hours=23, minutes=59)
    assert http.get(f"{dhan.base_url}/v2/orders", headers=auth).status_code == 200
    clock.advance(minutes=1)
    expired = http.get(f"{dhan.base_url}/v2/orders", headers=auth)
    assert expired.status_code == 401 and expired.json()["errorCode"] == "DH-901"


def test_place_list_by_correlation_cancel(http, dhan, auth):
    security_id, ltp = atm(http, dhan)
    placed = http.post(
        f"{dhan.base_url}/v2/orders",
        json=order_body(security_id, round(ltp - 5, 2), correlationId="S1L1"),
        headers=auth,
    )
    assert placed.status_code == 200, placed.text
    order_id = placed.json()["orderId"]
    [order] = http.get(f"{dhan.base_url}/v2/orders/external/S1L1", headers=auth).json()
    assert order["orderId"] == order_id and order["orderStatus"] == "PENDING"
    cancelled = http.delete(f"{dhan.base_url}/v2/orders/{order_id}", headers=auth).json()
    assert cancelled["orderStatus"] == "CANCELLED"


def test_fill_trades_positions_and_ltp(http, dhan, auth):
    security_id, ltp = atm(http, dhan)
    order_id = http.post(
        f"{dhan.base_url}/v2/orders",
        json=order_body(security_id, 0, orderType="MARKET", transactionType="SELL"),
        headers=auth,
    ).json()["orderId"]
    assert (
        http.get(f"{dhan.base_url}/v2/orders/{order_id}", headers=auth).json()["orderStatus"]
        == "TRADED"
    )
    [trade] = http.get(f"{dhan.base_url}/v2/trades/{order_id}", headers=auth).json()
    assert trade["tradedPrice"] == ltp
    [position] = http.get(f"{dhan.base_url}/v2/positions", headers=auth).json()
    assert position["netQty"] == -65 and position["positionType"] == "SHORT"
    quote = http.post(
        f"{dhan.base_url}/v2/marketfeed/ltp", json={"NSE_FNO": [security_id]}, headers=auth
    ).json()
    assert quote["data"]["NSE_FNO"][security_id]["last_price"] == ltp


def test_master_parses_every_underlying(http, dhan):
    master = parse_dhan_master(http.get(f"{dhan.base_url}/api-data/api-scrip-master.csv").content)
    assert {str(i.underlying) for i in master} == {
        "NIFTY",
        "BANKNIFTY",
        "FINNIFTY",
        "MIDCPNIFTY",
        "SENSEX",
    }
    assert {i.tick_size for i in master} == {Decimal("0.05")}


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ("ip_not_whitelisted", 403, "DH-902"),
        ("freeze_qty", 400, "DH-906"),
        ("lot_size", 400, "DH-906"),
        ("market_refused", 400, "DH-906"),
        ("duplicate_tag", 400, "DH-906"),
        ("server_error", 500, "DH-908"),
        ("token_expired", 401, "DH-901"),
    ],
)
def test_faults_in_dhan_error_shape(http, dhan, auth, fault, status, code):
    security_id, _ = atm(http, dhan)
    dhan.inject(CLIENT, fault)
    reply = http.post(
        f"{dhan.base_url}/v2/orders",
        json=order_body(security_id, 0, orderType="MARKET"),
        headers=auth,
    )
    assert reply.status_code == status
    assert reply.json()["errorCode"] == code


def test_rms_reject_and_partial_fill(http, dhan, auth):
    security_id, ltp = atm(http, dhan)
    dhan.inject(CLIENT, "rms_reject")
    rejected = http.post(
        f"{dhan.base_url}/v2/orders", json=order_body(security_id, ltp), headers=auth
    ).json()["orderId"]
    body = http.get(f"{dhan.base_url}/v2/orders/{rejected}", headers=auth).json()
    assert body["orderStatus"] == "REJECTED" and body["omsErrorDescription"]
    dhan.inject(CLIENT, "partial_fill")
    partial = http.post(
        f"{dhan.base_url}/v2/orders",
        json=order_body(security_id, round(ltp + 2, 2), quantity=130),
        headers=auth,
    ).json()["orderId"]
    body = http.get(f"{dhan.base_url}/v2/orders/{partial}", headers=auth).json()
    assert body["orderStatus"] == "PART_TRADED" and body["filledQty"] == 65


def test_rate_limit_is_dh904(http, dhan, auth):
    dhan.monotonic = lambda: 5.0
    security_id, ltp = atm(http, dhan)
    codes = [
        http.post(
            f"{dhan.base_url}/v2/orders", json=order_body(security_id, ltp - 5), headers=auth
        ).status_code
        for _ in range(11)
    ]
    assert codes[-1] == 429 and codes.count(200) == 10
