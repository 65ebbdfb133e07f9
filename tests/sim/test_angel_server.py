"""The fake Angel SmartAPI server: TOTP login, 05:00 expiry, orders, master, faults."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.domain.masters import parse_angel_master
from sim.brokers.angel import P, totp

KEY, SEED, CLIENT = "angelkey", "JBSWY3DPEHPK3PXP", "A123456"
LOGIN = "/rest/auth/angelbroking/user/v1/loginByPassword"


@pytest.fixture
def angel(start_server):
    server = start_server("angel")
    server.register_app(KEY, SEED, CLIENT, "http://127.0.0.1:1/cb")
    return server


def login(http, angel, code=None):
    return http.post(
        f"{angel.base_url}{LOGIN}",
        json={
            "clientcode": CLIENT,
            "password": "1234",
            "totp": code or totp(SEED, angel.exchange.now()),
        },
        headers={"X-PrivateKey": KEY, "X-UserType": "USER", "X-SourceID": "WEB"},
    )


@pytest.fixture
def auth(http, angel):
    reply = login(http, angel)
    assert reply.json()["status"] is True, reply.text
    return {"Authorization": f"Bearer {reply.json()['data']['jwtToken']}"}


def atm(http, angel):
    master = parse_angel_master(
        http.get(f"{angel.base_url}/OpenAPI_File/files/OpenAPIScripMaster.json").content
    )
    spot = angel.exchange.spot("NIFTY")
    nearest = min(master, key=lambda i: (i.expiry, abs(i.strike - spot)))
    return nearest.refs["angel"], float(angel.exchange.ltp(nearest.key))


def order(ref, price, **extra):
    return {
        "variety": "NORMAL",
        "tradingsymbol": ref.symbol,
        "symboltoken": ref.token,
        "transactiontype": "BUY",
        "exchange": "NFO",
        "ordertype": "LIMIT",
        "producttype": "CARRYFORWARD",
        "duration": "DAY",
        "price": str(price),
        "quantity": "65",
        **extra,
    }


def test_wrong_totp_is_refused(http, angel):
    wrong = "000000" if totp(SEED, angel.exchange.now()) != "000000" else "111111"
    assert login(http, angel, wrong).json()["status"] is False


def test_token_expires_at_five(http, angel, auth, clock):
    clock.set(clock().replace(hour=4, minute=59) + timedelta(days=1))
    assert http.get(f"{angel.base_url}{P}/order/v1/getOrderBook", headers=auth).status_code == 200
    clock.advance(minutes=1)
    expired = http.get(f"{angel.base_url}{P}/order/v1/getOrderBook", headers=auth)
    assert expired.status_code == 401 and expired.json()["errorcode"] == "AG8001"


def test_place_book_cancel(http, angel, auth):
    ref, ltp = atm(http, angel)
    placed = http.post(
        f"{angel.base_url}{P}/order/v1/placeOrder",
        json=order(ref, round(ltp - 5, 2), ordertag="S1L1"),
        headers=auth,
    ).json()
    order_id = placed["data"]["orderid"]
    book = http.get(f"{angel.base_url}{P}/order/v1/getOrderBook", headers=auth).json()["data"]
    assert book[0]["status"] == "open" and book[0]["ordertag"] == "S1L1"
    http.post(
        f"{angel.base_url}{P}/order/v1/cancelOrder",
        json={"variety": "NORMAL", "orderid": order_id},
        headers=auth,
    )
    details = http.get(
        f"{angel.base_url}{P}/order/v1/details/{placed['data']['uniqueorderid']}", headers=auth
    ).json()["data"]
    assert details["status"] == "cancelled"


def test_master_parses_every_underlying(http, angel):
    master = parse_angel_master(
        http.get(f"{angel.base_url}/OpenAPI_File/files/OpenAPIScripMaster.json").content
    )
    assert len({i.underlying for i in master}) == 5


@pytest.mark.parametrize(
    ("fault", "status"),
    [("ip_not_whitelisted", 403), ("lot_size", 400), ("freeze_qty", 400), ("server_error", 500)],
)
def test_faults(http, angel, auth, fault, status):
    ref, ltp = atm(http, angel)
    angel.inject(CLIENT, fault)
    reply = http.post(
        f"{angel.base_url}{P}/order/v1/placeOrder", json=order(ref, ltp), headers=auth
    )
    assert reply.status_code == status and reply.json()["status"] is False


def test_sl_cancelled_by_broker(http, angel, auth):
    ref, ltp = atm(http, angel)
    angel.inject(CLIENT, "sl_cancelled")
    body = order(ref, round(ltp + 2, 2), ordertype="STOPLOSS_LIMIT", triggerprice=str(ltp))
    body["variety"] = "STOPLOSS"
    http.post(f"{angel.base_url}{P}/order/v1/placeOrder", json=body, headers=auth)
    book = http.get(f"{angel.base_url}{P}/order/v1/getOrderBook", headers=auth).json()["data"]
    assert book[0]["status"] == "cancelled"
