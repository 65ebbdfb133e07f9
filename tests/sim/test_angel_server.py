"""The fake Angel SmartAPI server: TOTP login, 05:00 expiry, orders, master, faults."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

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


def test_stop_orders_live_in_the_stoploss_variety(http, angel, auth):
    ref, ltp = atm(http, angel)
    last = Decimal(str(ltp))
    url = f"{angel.base_url}{P}/order/v1"
    sl = order(ref, last + 5, ordertype="STOPLOSS_LIMIT", triggerprice=str(last + 4))
    refused = http.post(f"{url}/placeOrder", json=sl, headers=auth)
    assert refused.status_code == 400 and "variety" in refused.json()["message"]
    wrong = http.post(
        f"{url}/placeOrder", json={**order(ref, ltp), "variety": "STOPLOSS"}, headers=auth
    )
    assert wrong.status_code == 400
    placed = http.post(f"{url}/placeOrder", json={**sl, "variety": "STOPLOSS"}, headers=auth)
    order_id = placed.json()["data"]["orderid"]
    book = http.get(f"{url}/getOrderBook", headers=auth).json()["data"]
    assert (book[0]["variety"], book[0]["status"]) == ("STOPLOSS", "trigger pending")

    modify = {"orderid": order_id, "ordertype": "STOPLOSS_LIMIT", "triggerprice": str(last + 3)}
    assert http.post(f"{url}/modifyOrder", json=modify, headers=auth).status_code == 400
    modified = http.post(f"{url}/modifyOrder", json={**modify, "variety": "STOPLOSS"}, headers=auth)
    assert modified.json()["status"] is True
    assert angel.exchange.order(CLIENT, order_id).trigger_price == last + 3

    cancel = {"variety": "NORMAL", "orderid": order_id}
    assert http.post(f"{url}/cancelOrder", json=cancel, headers=auth).status_code == 400
    cancelled = http.post(
        f"{url}/cancelOrder", json={**cancel, "variety": "STOPLOSS"}, headers=auth
    )
    assert cancelled.json()["status"] is True
    assert http.get(f"{url}/getOrderBook", headers=auth).json()["data"][0]["status"] == "cancelled"


def test_broker_cancelled_stop_says_why(http, angel, auth):
    ref, ltp = atm(http, angel)
    angel.inject(CLIENT, "sl_cancelled")
    body = order(ref, round(ltp + 2, 2), ordertype="STOPLOSS_LIMIT", triggerprice=str(ltp))
    http.post(f"{angel.base_url}{P}/order/v1/placeOrder", json={**body, "variety": "STOPLOSS"},
              headers=auth)  # fmt: skip
    row = http.get(f"{angel.base_url}{P}/order/v1/getOrderBook", headers=auth).json()["data"][0]
    assert row["status"] == "cancelled" and "cancelled by the broker" in row["text"]


def test_market_quote_batch_follows_a_pinned_price(http, angel, auth):
    master = parse_angel_master(
        http.get(f"{angel.base_url}/OpenAPI_File/files/OpenAPIScripMaster.json").content
    )
    spot = angel.exchange.spot("NIFTY")
    nearest = min(master, key=lambda i: (i.expiry, abs(i.strike - spot)))
    angel.exchange.set_price(nearest.key, Decimal("42.35"))
    token = nearest.refs["angel"].token
    reply = http.post(
        f"{angel.base_url}{P}/market/v1/quote/",
        json={"mode": "LTP", "exchangeTokens": {"NFO": [token, "999"]}},
        headers=auth,
    ).json()
    assert reply["status"] is True
    [row] = reply["data"]["fetched"]
    assert (row["symbolToken"], row["ltp"]) == (token, 42.35)
    assert [u["symbolToken"] for u in reply["data"]["unfetched"]] == ["999"]
    bad = http.post(
        f"{angel.base_url}{P}/market/v1/quote",
        json={"mode": "X", "exchangeTokens": {}},
        headers=auth,
    )
    assert bad.status_code == 400
