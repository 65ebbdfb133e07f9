"""The fake Fyers v3 server over loopback HTTP: auth code + appIdHash, app-wide 10/s, orders, faults."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from chalicelib.domain.masters import parse_fyers_master
from sim.brokers.rate_window import RATE_LIMIT

APP, SECRET, CLIENT = "XY1234AB-100", "fyers-secret", "XA00001"
REDIRECT = "http://127.0.0.1:1/callback"


def auth_code(http: httpx.Client, server) -> str:
    reply = http.get(
        f"{server.base_url}/generate-authcode",
        params={
            "client_id": APP,
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "state": "st",
        },
    )
    assert reply.status_code == 302, reply.text
    query = parse_qs(urlparse(reply.headers["Location"]).query)
    assert query["state"] == ["st"]
    return query["auth_code"][0]


def validate(http, server, code: str, secret: str = SECRET) -> httpx.Response:
    digest = hashlib.sha256(f"{APP}:{secret}".encode()).hexdigest()
    return http.post(
        f"{server.base_url}/validate-authcode",
        json={"grant_type": "authorization_code", "appIdHash": digest, "code": code},
    )


def login(http: httpx.Client, server) -> dict[str, str]:
    server.register_app(APP, SECRET, CLIENT, REDIRECT)
    reply = validate(http, server, auth_code(http, server))
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["s"] == "ok" and body["code"] == 200
    return {"Authorization": f"{APP}:{body['access_token']}"}


@pytest.fixture
def fyers(start_server):
    return start_server("fyers")


@pytest.fixture
def auth(http, fyers):
    return login(http, fyers)


def master(http, fyers, name: str = "NSE_FO"):
    return parse_fyers_master(http.get(f"{fyers.login_url_base}/sym_details/{name}.csv").content)


def atm(http, fyers):
    instruments = master(http, fyers)
    spot = fyers.exchange.spot("NIFTY")
    nearest = min(
        (i for i in instruments if str(i.underlying) == "NIFTY"),
        key=lambda i: (i.expiry, abs(i.strike - spot)),
    )
    return nearest, float(fyers.exchange.ltp(nearest.key))


def place(http, fyers, auth, instrument, price, **extra) -> httpx.Response:
    body = {
        "symbol": instrument.refs["fyers"].symbol,
        "qty": instrument.lot_size,
        "type": 1,
        "side": 1,
        "productType": "MARGIN",
        "limitPrice": round(price, 2),
        "stopPrice": 0,
        "validity": "DAY",
        "disclosedQty": 0,
        "offlineOrder": False,
        "orderTag": "S1L1",
        **extra,
    }
    return http.post(f"{fyers.base_url}/orders/sync", json=body, headers=auth)


def placed_id(reply: httpx.Response) -> str:
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["s"] == "ok" and body["code"] == 1101
    return body["id"]


def order(http, fyers, auth, order_id: str) -> dict:
    [row] = http.get(f"{fyers.base_url}/orders", params={"id": order_id}, headers=auth).json()[
        "orderBook"
    ]
    return row


def error(reply: httpx.Response) -> int:
    body = reply.json()
    assert body["s"] == "error", body
    return body["code"]


class TestLogin:
    def test_app_id_hash_must_use_the_secret(self, http, fyers):
        fyers.register_app(APP, SECRET, CLIENT, REDIRECT)
        reply = validate(http, fyers, auth_code(http, fyers), secret="wrong")
        assert reply.status_code == 401 and error(reply) == -16

    def test_auth_code_is_single_use(self, http, fyers):
        fyers.register_app(APP, SECRET, CLIENT, REDIRECT)
        code = auth_code(http, fyers)
        assert validate(http, fyers, code).status_code == 200
        assert validate(http, fyers, code).status_code == 401

    def test_token_expires_at_midnight(self, http, fyers, auth, clock):
        assert http.get(f"{fyers.base_url}/profile", headers=auth).json()["s"] == "ok"
        clock.set(clock().replace(hour=23, minute=59))
        assert http.get(f"{fyers.base_url}/orders", headers=auth).status_code == 200
        clock.advance(minutes=1)
        expired = http.get(f"{fyers.base_url}/orders", headers=auth)
        assert expired.status_code == 401 and error(expired) == -16

    def test_token_is_bound_to_its_app_id(self, http, fyers, auth):
        token = auth["Authorization"].partition(":")[2]
        other = {"Authorization": f"OTHER-100:{token}"}
        assert http.get(f"{fyers.base_url}/orders", headers=other).status_code == 401
        assert http.get(f"{fyers.base_url}/orders").status_code == 401


class TestOrders:
    def test_masters_parse_with_our_parser(self, http, fyers):
        nse = master(http, fyers)
        assert {str(i.underlying) for i in nse} == {"NIFTY", "BANKNIFTY", "FINNIFTY", "MIDCPNIFTY"}
        bse = master(http, fyers, "BSE_FO")
        assert {str(i.underlying) for i in bse} == {"SENSEX"}
        assert all(i.refs["fyers"].symbol.startswith("BSE:") for i in bse)

    def test_place_list_cancel(self, http, fyers, auth):
        instrument, ltp = atm(http, fyers)
        order_id = placed_id(place(http, fyers, auth, instrument, ltp - 5))
        row = order(http, fyers, auth, order_id)
        assert row["status"] == 6 and row["orderTag"] == "S1L1"
        assert row["symbol"] == instrument.refs["fyers"].symbol and row["side"] == 1
        cancelled = http.request(
            "DELETE", f"{fyers.base_url}/orders/sync", json={"id": order_id}, headers=auth
        ).json()
        assert cancelled["s"] == "ok" and cancelled["id"] == order_id
        assert order(http, fyers, auth, order_id)["status"] == 1

    def test_modify_to_fill_then_trades_and_positions(self, http, fyers, auth):
        instrument, ltp = atm(http, fyers)
        order_id = placed_id(place(http, fyers, auth, instrument, ltp - 5))
        modified = http.patch(
            f"{fyers.base_url}/orders/sync",
            json={"id": order_id, "type": 1, "limitPrice": round(ltp + 2, 2)},
            headers=auth,
        )
        assert modified.json()["code"] == 1102
        row = order(http, fyers, auth, order_id)
        assert row["status"] == 2 and row["filledQty"] == instrument.lot_size
        [trade] = http.get(f"{fyers.base_url}/tradebook", headers=auth).json()["tradeBook"]
        assert trade["orderNumber"] == order_id and trade["tradedQty"] == instrument.lot_size
        [position] = http.get(f"{fyers.base_url}/positions", headers=auth).json()["netPositions"]
        assert position["symbol"] == instrument.refs["fyers"].symbol
        assert position["netQty"] == instrument.lot_size and position["productType"] == "MARGIN"

    def test_quotes_on_the_data_host(self, http, fyers, auth):
        instrument, ltp = atm(http, fyers)
        symbol = instrument.refs["fyers"].symbol
        body = http.get(
            f"{fyers.data_url}/quotes",
            params={"symbols": f"{symbol},NSE:NIFTY50-INDEX"},
            headers=auth,
        ).json()
        assert body["s"] == "ok"
        prices = {row["n"]: row["v"]["lp"] for row in body["d"]}
        assert prices == {symbol: ltp, "NSE:NIFTY50-INDEX": float(fyers.exchange.spot("NIFTY"))}

    def test_market_is_protected_by_the_broker(self, http, fyers, auth):
        instrument, _ = atm(http, fyers)
        order_id = placed_id(place(http, fyers, auth, instrument, 0, type=2))
        assert order(http, fyers, auth, order_id)["status"] == 2

    def test_bad_product_is_an_input_error(self, http, fyers, auth):
        instrument, ltp = atm(http, fyers)
        reply = place(http, fyers, auth, instrument, ltp, productType="CNC")
        assert reply.status_code == 400 and error(reply) == -50

    def test_unknown_order_id(self, http, fyers, auth):
        reply = http.request(
            "DELETE", f"{fyers.base_url}/orders/sync", json={"id": "nope"}, headers=auth
        )
        assert error(reply) == -51


class TestFaults:
    def test_rms_reject_after_ack(self, http, fyers, auth):
        instrument, ltp = atm(http, fyers)
        fyers.inject(CLIENT, "rms_reject")
        row = order(http, fyers, auth, placed_id(place(http, fyers, auth, instrument, ltp)))
        assert row["status"] == 5 and row["message"].startswith("RMS")

    def test_partial_fill_leaves_the_rest_pending(self, http, fyers, auth):
        instrument, ltp = atm(http, fyers)
        fyers.inject(CLIENT, "partial_fill", ratio=0.5)
        reply = place(http, fyers, auth, instrument, ltp + 2, qty=2 * instrument.lot_size)
        row = order(http, fyers, auth, placed_id(reply))
        assert row["status"] == 6 and row["filledQty"] == instrument.lot_size
        assert row["remainingQuantity"] == instrument.lot_size

    def test_sl_cancelled_by_the_broker(self, http, fyers, auth):
        instrument, ltp = atm(http, fyers)
        fyers.inject(CLIENT, "sl_cancelled")
        reply = place(http, fyers, auth, instrument, ltp, type=4, stopPrice=round(ltp - 5, 2))
        assert order(http, fyers, auth, placed_id(reply))["status"] == 1

    def test_ip_not_whitelisted_only_on_order_endpoints(self, http, fyers, auth):
        instrument, ltp = atm(http, fyers)
        fyers.inject(CLIENT, "ip_not_whitelisted")
        assert http.get(f"{fyers.base_url}/orders", headers=auth).status_code == 200
        refused = place(http, fyers, auth, instrument, ltp)
        assert refused.status_code == 403 and error(refused) == -363
        assert "whitelisted" in refused.json()["message"]

    def test_token_expired_mid_session(self, http, fyers, auth):
        fyers.inject(CLIENT, "token_expired")
        for _ in range(2):
            reply = http.get(f"{fyers.base_url}/positions", headers=auth)
            assert reply.status_code == 401 and error(reply) == -16

    def test_server_error_then_recovery(self, http, fyers, auth):
        fyers.inject(CLIENT, "server_error", status=504)
        failed = http.get(f"{fyers.base_url}/orders", headers=auth)
        assert failed.status_code == 504 and error(failed) == -500
        assert http.get(f"{fyers.base_url}/orders", headers=auth).status_code == 200

    def test_timeout_beyond_the_client_timeout(self, http, fyers, auth):
        fyers.inject(CLIENT, "timeout", delay=0.3)
        with pytest.raises(httpx.ReadTimeout):
            http.get(f"{fyers.base_url}/orders", headers=auth, timeout=0.05)

    @pytest.mark.parametrize("fault", ["freeze_qty", "lot_size", "duplicate_tag"])
    def test_refusals_are_order_errors(self, http, fyers, auth, fault):
        instrument, ltp = atm(http, fyers)
        fyers.inject(CLIENT, fault)
        reply = place(http, fyers, auth, instrument, ltp)
        assert reply.status_code == 400 and error(reply) == -99

    def test_market_refused_fault(self, http, fyers, auth):
        instrument, _ = atm(http, fyers)
        fyers.inject(CLIENT, "market_refused")
        reply = place(http, fyers, auth, instrument, 0, type=2)
        assert error(reply) == -99 and "protection" in reply.json()["message"]


class TestRateLimit:
    def test_limit_is_per_app_over_every_call(self, http, fyers, auth):
        now = [1000.0]
        fyers.monotonic = lambda: now[0]
        instrument, ltp = atm(http, fyers)
        codes = [place(http, fyers, auth, instrument, ltp - 5).status_code for _ in range(5)]
        codes += [http.get(f"{fyers.base_url}/orders", headers=auth).status_code for _ in range(5)]
        assert codes == [200] * RATE_LIMIT
        limited = http.get(f"{fyers.base_url}/tradebook", headers=auth)
        assert limited.status_code == 429 and error(limited) == -429
        assert place(http, fyers, auth, instrument, ltp - 5).status_code == 429
        now[0] += 1.001
        assert place(http, fyers, auth, instrument, ltp - 5).status_code == 200
