"""kiteconnect (official Zerodha SDK) against the fake Kite server: login, place, list, cancel."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

# requirements-sdk.txt is part of the dev install: a missing SDK fails here rather than skipping.
import kiteconnect
import pytest
import requests

pytestmark = pytest.mark.contract


@pytest.fixture
def kite(start_server):
    server = start_server("kite")
    server.register_app("sdkkey", "sdksecret", "ZK0001", "http://127.0.0.1:1/callback")
    client = kiteconnect.KiteConnect("sdkkey", root=server.base_url, timeout=5)
    browser = requests.get(
        client.login_url().replace("https://kite.zerodha.com", server.login_url_base),
        allow_redirects=False,
        timeout=5,
    )
    request_token = parse_qs(urlparse(browser.headers["Location"]).query)["request_token"][0]
    session = client.generate_session(request_token, api_secret="sdksecret")
    assert session["user_id"] == "ZK0001"
    return server, client


def test_login_place_list_cancel(kite):
    server, client = kite
    instruments = client.instruments("NFO")
    spot = server.exchange.spot("NIFTY")
    first_expiry = min(i["expiry"] for i in instruments if i["name"] == "NIFTY")
    atm = min(
        (i for i in instruments if i["name"] == "NIFTY" and i["expiry"] == first_expiry),
        key=lambda i: abs(i["strike"] - float(spot)),
    )
    symbol = atm["tradingsymbol"]
    ltp = client.ltp([f"NFO:{symbol}"])[f"NFO:{symbol}"]["last_price"]

    order_id = client.place_order(
        variety=client.VARIETY_REGULAR,
        exchange=client.EXCHANGE_NFO,
        tradingsymbol=symbol,
        transaction_type=client.TRANSACTION_TYPE_BUY,
        quantity=atm["lot_size"],
        product=client.PRODUCT_NRML,
        order_type=client.ORDER_TYPE_LIMIT,
        price=round(ltp - 5, 2),
        tag="ctest1",
    )
    [order] = [o for o in client.orders() if o["order_id"] == order_id]
    assert order["status"] == "OPEN" and order["tradingsymbol"] == symbol
    assert client.cancel_order(client.VARIETY_REGULAR, order_id) == order_id
    assert client.order_history(order_id)[-1]["status"] == "CANCELLED"

    filled = client.place_order(
        variety="regular",
        exchange="NFO",
        tradingsymbol=symbol,
        transaction_type="SELL",
        quantity=atm["lot_size"],
        product="NRML",
        order_type="MARKET",
        market_protection=-1,
    )
    assert client.order_history(filled)[-1]["status"] == "COMPLETE"
    assert client.positions()["net"][0]["quantity"] == -atm["lot_size"]
    assert client.trades()[0]["order_id"] == filled


def test_sdk_exceptions_map_from_fake_errors(kite):
    server, client = kite
    server.inject("ZK0001", "ip_not_whitelisted")
    with pytest.raises(kiteconnect.exceptions.PermissionException):
        client.place_order("regular", "NFO", "NIFTY26MAR24000CE", "BUY", 65, "NRML", "LIMIT", 10)
    server.inject("ZK0001", "token_expired")
    with pytest.raises(kiteconnect.exceptions.TokenException):
        client.orders()


def test_basket_margins_and_funds_through_the_sdk(kite):
    server, client = kite
    instruments = client.instruments("NFO")
    spot = float(server.exchange.spot("NIFTY"))
    expiry = min(i["expiry"] for i in instruments if i["name"] == "NIFTY")
    calls = sorted(
        (i for i in instruments
         if i["name"] == "NIFTY" and i["expiry"] == expiry and i["instrument_type"] == "CE"),
        key=lambda i: abs(i["strike"] - spot),
    )  # fmt: skip
    short, wing = calls[0], next(c for c in calls if c["strike"] == calls[0]["strike"] + 200)
    orders = [
        {"exchange": "NFO", "tradingsymbol": c["tradingsymbol"], "transaction_type": side,
         "variety": "regular", "product": "MIS", "order_type": "LIMIT",
         "quantity": c["lot_size"], "price": 0, "trigger_price": 0}
        for c, side in ((short, "SELL"), (wing, "BUY"))
    ]  # fmt: skip
    basket = client.basket_order_margins(orders, mode="compact")
    assert 0 < basket["final"]["total"] < basket["initial"]["total"]  # the spread's benefit
    equity = client.margins("equity")
    assert equity["net"] == 10_000_000 and equity["available"]["cash"] == 10_000_000
