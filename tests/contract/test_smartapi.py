"""smartapi-python (official Angel One SDK) against the fake Angel server."""

from __future__ import annotations

import pytest
from SmartApi import SmartConnect

from chalicelib.domain.masters import parse_angel_master
from sim.brokers.angel import totp

pytestmark = pytest.mark.contract

KEY, SEED, CLIENT = "sdkkey", "JBSWY3DPEHPK3PXP", "S100001"


def test_login_place_list_cancel(start_server):
    import requests

    server = start_server("angel")
    server.register_app(KEY, SEED, CLIENT, "http://127.0.0.1:1/cb")
    client = SmartConnect(api_key=KEY, root=server.base_url, timeout=5)
    user = client.generateSession(CLIENT, "1234", totp(SEED, server.exchange.now()))
    assert user["data"]["clientcode"] == CLIENT

    master = parse_angel_master(
        requests.get(
            f"{server.base_url}/OpenAPI_File/files/OpenAPIScripMaster.json", timeout=5
        ).content
    )
    spot = server.exchange.spot("NIFTY")
    atm = min(master, key=lambda i: (i.expiry, abs(i.strike - spot)))
    ref = atm.refs["angel"]
    ltp = client.ltpData("NFO", ref.symbol, ref.token)["data"]["ltp"]
    order_id = client.placeOrder(
        {
            "variety": "NORMAL",
            "tradingsymbol": ref.symbol,
            "symboltoken": ref.token,
            "transactiontype": "BUY",
            "exchange": "NFO",
            "ordertype": "LIMIT",
            "producttype": "CARRYFORWARD",
            "duration": "DAY",
            "price": str(round(ltp - 5, 2)),
            "quantity": str(atm.lot_size),
            "ordertag": "ctest1",
        }
    )
    assert order_id
    book = client.orderBook()["data"]
    assert [o["status"] for o in book if o["orderid"] == order_id] == ["open"]
    assert client.cancelOrder(order_id, "NORMAL")["status"] is True
    assert client.orderBook()["data"][0]["status"] == "cancelled"


def test_margin_batch_and_rms_through_the_sdk(start_server):
    import requests

    server = start_server("angel")
    server.register_app(KEY, SEED, CLIENT, "http://127.0.0.1:1/cb")
    client = SmartConnect(api_key=KEY, root=server.base_url, timeout=5)
    client.generateSession(CLIENT, "1234", totp(SEED, server.exchange.now()))
    master = parse_angel_master(
        requests.get(
            f"{server.base_url}/OpenAPI_File/files/OpenAPIScripMaster.json", timeout=5
        ).content
    )
    spot = server.exchange.spot("NIFTY")
    atm = min(master, key=lambda i: (i.expiry, abs(i.strike - spot)))
    answer = client.getMarginApi(
        {"positions": [{"exchange": "NFO", "qty": atm.lot_size, "price": 0,
                        "productType": "INTRADAY", "token": atm.refs["angel"].token,
                        "tradeType": "SELL", "orderType": "LIMIT"}]}
    )  # fmt: skip
    assert answer["status"] is True and answer["data"]["totalMarginRequired"] > 0
    assert float(client.rmsLimit()["data"]["net"]) == 10_000_000
