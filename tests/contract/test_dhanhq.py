"""dhanhq (official Dhan SDK) against the fake Dhan server: consent login, place, list, cancel."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

# requirements-sdk.txt is part of the dev install: a missing SDK fails here rather than skipping.
import dhanhq as dhanhq_module
import pytest
import requests

from chalicelib.domain.masters import parse_dhan_master

pytestmark = pytest.mark.contract

APP, SECRET, CLIENT = "sdkapp", "sdksecret", "1100000001"


@pytest.fixture
def dhan(start_server, monkeypatch):
    server = start_server("dhan")
    server.register_app(APP, SECRET, CLIENT, "http://127.0.0.1:1/callback")
    login = dhanhq_module.DhanLogin(CLIENT)
    login.AUTH_BASE_URL = server.login_url_base
    # The SDK opens a browser on the consent URL; the "browser" here is a plain GET.
    opened = []
    monkeypatch.setattr("webbrowser.open", opened.append)
    consent = login.generate_login_session(APP, SECRET)
    browser = requests.get(opened[0], allow_redirects=False, timeout=5)
    token_id = parse_qs(urlparse(browser.headers["Location"]).query)["tokenId"][0]
    session = login.consume_token_id(token_id, APP, SECRET)
    assert consent and session["dhanClientId"] == CLIENT
    context = dhanhq_module.DhanContext(CLIENT, session["accessToken"])
    context.get_dhan_http().base_url = f"{server.base_url}/v2"
    return server, dhanhq_module.dhanhq(context)


def test_login_place_list_cancel(dhan):
    server, client = dhan
    master = parse_dhan_master(
        requests.get(f"{server.base_url}/api-data/api-scrip-master.csv", timeout=5).content
    )
    spot = server.exchange.spot("NIFTY")
    atm = min(master, key=lambda i: (i.expiry, abs(i.strike - spot)))
    security_id = atm.refs["dhan"].token
    ltp = float(server.exchange.ltp(security_id))

    placed = client.place_order(
        security_id=security_id,
        exchange_segment=client.NSE_FNO,
        transaction_type=client.BUY,
        quantity=atm.lot_size,
        order_type=client.LIMIT,
        product_type=client.MARGIN,
        price=round(ltp - 5, 2),
        tag="ctest1",
    )
    assert placed["status"] == "success", placed
    order_id = placed["data"]["orderId"]
    orders = client.get_order_list()
    assert orders["status"] == "success"
    assert [o["orderStatus"] for o in orders["data"] if o["orderId"] == order_id] == ["PENDING"]
    assert client.get_order_by_correlationID("ctest1")["data"][0]["orderId"] == order_id
    cancelled = client.cancel_order(order_id)
    assert cancelled["status"] == "success"
    assert client.get_order_by_id(order_id)["data"]["orderStatus"] == "CANCELLED"


def test_errors_reach_the_sdk_as_failures(dhan):
    server, client = dhan
    server.inject(CLIENT, "ip_not_whitelisted")
    refused = client.place_order("1", client.NSE_FNO, "BUY", 65, "LIMIT", "MARGIN", 10.0)
    assert refused["status"] == "failure"
    assert refused["remarks"]["error_code"] == "DH-902"


def test_margin_calculator_and_fund_limit_through_the_sdk(dhan):
    server, client = dhan
    master = parse_dhan_master(
        requests.get(f"{server.base_url}/api-data/api-scrip-master.csv", timeout=5).content
    )
    spot = server.exchange.spot("NIFTY")
    atm = min(master, key=lambda i: (i.expiry, abs(i.strike - spot)))
    answer = client.margin_calculator_multi(
        [{"exchangeSegment": "NSE_FNO", "transactionType": "SELL", "quantity": atm.lot_size,
          "productType": "INTRADAY", "securityId": atm.refs["dhan"].token, "price": 0,
          "triggerPrice": 0}],
        include_position=True, include_order=True,
    )  # fmt: skip
    assert answer["status"] == "success", answer
    assert answer["data"]["totalMargin"] > 0
    funds = client.get_fund_limits()
    assert funds["status"] == "success" and funds["data"]["availabelBalance"] == 10_000_000
