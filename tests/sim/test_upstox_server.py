"""The fake Upstox server over loopback HTTP: OAuth code login, 03:30 expiry, v3 orders, faults."""

from __future__ import annotations

import gzip
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from chalicelib.domain.masters import parse_upstox_master
from sim.brokers.rate_window import RATE_LIMIT

KEY, SECRET, CLIENT = "upstox-app", "upstox-secret", "AB1234"
REDIRECT = "http://127.0.0.1:1/callback"


def auth_code(http: httpx.Client, server, state: str = "s1") -> str:
    reply = http.get(
        f"{server.login_url_base}/v2/login/authorization/dialog",
        params={
            "response_type": "code",
            "client_id": KEY,
            "redirect_uri": REDIRECT,
            "state": state,
        },
    )
    assert reply.status_code == 302, reply.text
    query = parse_qs(urlparse(reply.headers["Location"]).query)
    assert query["state"] == [state]
    return query["code"][0]


def token_form(code: str, secret: str = SECRET, redirect_uri: str = REDIRECT) -> dict[str, str]:
    return {
        "code": code,
        "client_id": KEY,
        "client_secret": secret,
        "redirect_uri": redirect_uri,
        "grant_type": "authorization_code",
    }


def login(http: httpx.Client, server) -> dict[str, str]:
    server.register_app(KEY, SECRET, CLIENT, REDIRECT)
    reply = http.post(
        f"{server.base_url}/v2/login/authorization/token",
        data=token_form(auth_code(http, server)),
        headers={"Accept": "application/json", "Api-Version": "2.0"},
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["user_id"] == CLIENT
    return {"Authorization": f"Bearer {reply.json()['access_token']}", "Accept": "application/json"}


@pytest.fixture
def upstox(start_server):
    return start_server("upstox")


@pytest.fixture
def auth(http, upstox):
    return login(http, upstox)


def atm(http, upstox, underlying: str = "NIFTY"):
    master = parse_upstox_master(http.get(f"{upstox.base_url}/instruments/complete.json").content)
    spot = upstox.exchange.spot(underlying)
    mine = [i for i in master if str(i.underlying) == underlying]
    nearest = min(mine, key=lambda i: (i.expiry, abs(i.strike - spot)))
    return nearest, float(upstox.exchange.ltp(nearest.key))


def place(http, upstox, auth, instrument, price, **extra):
    body = {
        "quantity": instrument.lot_size,
        "product": "D",
        "validity": "DAY",
        "price": round(price, 2),
        "tag": "S1L1",
        "instrument_token": instrument.refs["upstox"].token,
        "order_type": "LIMIT",
        "transaction_type": "BUY",
        "disclosed_quantity": 0,
        "trigger_price": 0,
        "is_amo": False,
        "slice": False,
        **extra,
    }
    return http.post(f"{upstox.base_url}/v3/order/place", json=body, headers=auth)


def error_code(reply: httpx.Response) -> str:
    body = reply.json()
    assert body["status"] == "error"
    return body["errors"][0]["errorCode"]


def details(http, upstox, auth, order_id):
    reply = http.get(
        f"{upstox.base_url}/v2/order/details", params={"order_id": order_id}, headers=auth
    )
    return reply.json()["data"]


class TestLogin:
    def test_wrong_secret_is_refused(self, http, upstox):
        upstox.register_app(KEY, SECRET, CLIENT, REDIRECT)
        code = auth_code(http, upstox)
        reply = http.post(
            f"{upstox.base_url}/v2/login/authorization/token", data=token_form(code, "nope")
        )
        assert reply.status_code == 401
        assert error_code(reply) == "UDAPI100016"

    def test_redirect_uri_must_match_the_app(self, http, upstox):
        upstox.register_app(KEY, SECRET, CLIENT, REDIRECT)
        dialog = http.get(
            f"{upstox.login_url_base}/v2/login/authorization/dialog",
            params={"response_type": "code", "client_id": KEY, "redirect_uri": "http://x/cb"},
        )
        assert dialog.status_code == 400
        code = auth_code(http, upstox)
        reply = http.post(
            f"{upstox.base_url}/v2/login/authorization/token",
            data=token_form(code, redirect_uri="http://127.0.0.1:1/other"),
        )
        assert reply.status_code == 400
        assert reply.json()["errors"][0]["propertyPath"] == "redirect_uri"

    def test_code_is_single_use(self, http, upstox):
        upstox.register_app(KEY, SECRET, CLIENT, REDIRECT)
        form = token_form(auth_code(http, upstox))
        url = f"{upstox.base_url}/v2/login/authorization/token"
        assert http.post(url, data=form).status_code == 200
        again = http.post(url, data=form)
        assert again.status_code == 400 and error_code(again) == "UDAPI100057"

    def test_token_expires_at_half_past_three(self, http, upstox, auth, clock):
        assert http.get(f"{upstox.base_url}/v2/user/profile", headers=auth).status_code == 200
        clock.set(clock().replace(hour=3, minute=29) + timedelta(days=1))
        assert http.get(f"{upstox.base_url}/v2/order/retrieve-all", headers=auth).status_code == 200
        clock.advance(minutes=1)
        expired = http.get(f"{upstox.base_url}/v2/order/retrieve-all", headers=auth)
        assert expired.status_code == 401
        assert error_code(expired) == "UDAPI100050"

    def test_missing_auth_header(self, http, upstox):
        reply = http.get(f"{upstox.base_url}/v2/order/retrieve-all")
        assert reply.status_code == 401 and error_code(reply) == "UDAPI100050"


class TestOrders:
    def test_master_parses_plain_and_gzipped(self, http, upstox):
        plain = parse_upstox_master(
            http.get(f"{upstox.base_url}/instruments/complete.json").content
        )
        assert {str(i.underlying) for i in plain} == {
            "NIFTY", "BANKNIFTY", "FINNIFTY", "MIDCPNIFTY", "SENSEX",
        }  # fmt: skip
        packed = http.get(
            f"{upstox.base_url}/market-quote/instruments/exchange/complete.json.gz"
        ).content
        assert len(parse_upstox_master(gzip.decompress(packed))) == len(plain)
        sensex = next(i for i in plain if str(i.underlying) == "SENSEX")
        assert sensex.refs["upstox"].token.startswith("BSE_FO|")
        assert upstox.exchange.resolve(sensex.refs["upstox"].token).key == sensex.key

    def test_place_list_history_cancel(self, http, upstox, auth):
        instrument, ltp = atm(http, upstox)
        placed = place(http, upstox, auth, instrument, ltp - 5)
        assert placed.status_code == 200, placed.text
        body = placed.json()
        assert body["status"] == "success" and "latency" in body["metadata"]
        [order_id] = body["data"]["order_ids"]
        [order] = http.get(f"{upstox.base_url}/v2/order/retrieve-all", headers=auth).json()["data"]
        assert order["status"] == "open" and order["tag"] == "S1L1"
        assert order["instrument_token"] == instrument.refs["upstox"].token
        assert order["pending_quantity"] == instrument.lot_size
        cancelled = http.delete(
            f"{upstox.base_url}/v2/order/cancel", params={"order_id": order_id}, headers=auth
        )
        assert cancelled.json()["data"]["order_id"] == order_id
        history = http.get(
            f"{upstox.base_url}/v2/order/history", params={"order_id": order_id}, headers=auth
        ).json()["data"]
        assert [h["status"] for h in history] == [
            "put order req received", "validation pending", "open pending", "open", "cancelled",
        ]  # fmt: skip

    def test_modify_then_fill_shows_in_trades_and_positions(self, http, upstox, auth):
        instrument, ltp = atm(http, upstox)
        [order_id] = place(http, upstox, auth, instrument, ltp - 5).json()["data"]["order_ids"]
        modified = http.put(
            f"{upstox.base_url}/v3/order/modify",
            json={"order_id": order_id, "price": round(ltp + 2, 2), "order_type": "LIMIT"},
            headers=auth,
        )
        assert modified.status_code == 200, modified.text
        assert details(http, upstox, auth, order_id)["status"] == "complete"
        [trade] = http.get(
            f"{upstox.base_url}/v2/order/trades/get-trades-for-day", headers=auth
        ).json()["data"]
        assert trade["order_id"] == order_id and trade["quantity"] == instrument.lot_size
        [position] = http.get(
            f"{upstox.base_url}/v2/portfolio/short-term-positions", headers=auth
        ).json()["data"]
        assert position["instrument_token"] == instrument.refs["upstox"].token
        assert position["quantity"] == instrument.lot_size and position["product"] == "D"

    def test_ltp_names_the_instrument_key(self, http, upstox, auth):
        instrument, ltp = atm(http, upstox)
        key = instrument.refs["upstox"].token
        data = http.get(
            f"{upstox.base_url}/v2/market-quote/ltp", params={"instrument_key": key}, headers=auth
        ).json()["data"]
        [row] = data.values()
        assert row == {"last_price": ltp, "instrument_token": key}

    def test_slice_splits_above_the_freeze_limit(self, http, upstox, auth):
        instrument, ltp = atm(http, upstox)
        freeze = instrument_freeze = upstox.exchange.resolve(instrument.key).freeze_qty
        assert instrument_freeze
        lots = freeze // instrument.lot_size + 1
        reply = place(
            http, upstox, auth, instrument, ltp - 5, quantity=lots * instrument.lot_size, slice=True
        )
        assert reply.status_code == 200, reply.text
        assert len(reply.json()["data"]["order_ids"]) == 2
        unsliced = place(
            http, upstox, auth, instrument, ltp - 5, quantity=lots * instrument.lot_size
        )
        assert unsliced.status_code == 400

    def test_market_with_explicit_zero_protection_is_refused(self, http, upstox, auth):
        instrument, _ = atm(http, upstox)
        refused = place(http, upstox, auth, instrument, 0, order_type="MARKET", market_protection=0)
        assert refused.status_code == 400 and error_code(refused) == "UDAPI100049"
        auto = place(http, upstox, auth, instrument, 0, order_type="MARKET")
        assert auto.status_code == 200, auto.text

    def test_bad_product_is_an_input_error(self, http, upstox, auth):
        instrument, ltp = atm(http, upstox)
        reply = place(http, upstox, auth, instrument, ltp, product="NRML")
        assert reply.status_code == 400 and error_code(reply) == "UDAPI1004"

    def test_unknown_order_is_not_found(self, http, upstox, auth):
        reply = http.get(
            f"{upstox.base_url}/v2/order/details", params={"order_id": "nope"}, headers=auth
        )
        assert reply.status_code == 404 and error_code(reply) == "UDAPI100010"


class TestFaults:
    def test_rms_reject_after_ack(self, http, upstox, auth):
        instrument, ltp = atm(http, upstox)
        upstox.inject(CLIENT, "rms_reject")
        [order_id] = place(http, upstox, auth, instrument, ltp).json()["data"]["order_ids"]
        order = details(http, upstox, auth, order_id)
        assert order["status"] == "rejected" and order["status_message"].startswith("RMS")

    def test_partial_fill_leaves_the_rest_open(self, http, upstox, auth):
        instrument, ltp = atm(http, upstox)
        upstox.inject(CLIENT, "partial_fill", ratio=0.5, hold=30)
        quantity = 2 * instrument.lot_size
        [order_id] = place(http, upstox, auth, instrument, ltp + 2, quantity=quantity).json()[
            "data"
        ]["order_ids"]
        order = details(http, upstox, auth, order_id)
        assert order["status"] == "open"
        assert order["filled_quantity"] == instrument.lot_size
        assert order["pending_quantity"] == instrument.lot_size

    def test_sl_cancelled_by_the_broker(self, http, upstox, auth):
        instrument, ltp = atm(http, upstox)
        upstox.inject(CLIENT, "sl_cancelled")
        [order_id] = place(
            http, upstox, auth, instrument, ltp, order_type="SL", trigger_price=round(ltp - 5, 2)
        ).json()["data"]["order_ids"]
        assert details(http, upstox, auth, order_id)["status"] == "cancelled"

    def test_ip_not_whitelisted_only_on_order_endpoints(self, http, upstox, auth):
        instrument, ltp = atm(http, upstox)
        upstox.inject(CLIENT, "ip_not_whitelisted")
        assert http.get(f"{upstox.base_url}/v2/order/retrieve-all", headers=auth).status_code == 200
        refused = place(http, upstox, auth, instrument, ltp)
        assert refused.status_code == 403 and error_code(refused) == "UDAPI1154"
        assert "whitelisted" in refused.json()["errors"][0]["message"]

    def test_token_expired_mid_session(self, http, upstox, auth):
        upstox.inject(CLIENT, "token_expired")
        for _ in range(2):
            reply = http.get(f"{upstox.base_url}/v2/order/retrieve-all", headers=auth)
            assert reply.status_code == 401 and error_code(reply) == "UDAPI100050"

    def test_server_error_then_recovery(self, http, upstox, auth):
        upstox.inject(CLIENT, "server_error", status=503)
        failed = http.get(f"{upstox.base_url}/v2/order/retrieve-all", headers=auth)
        assert failed.status_code == 503 and error_code(failed) == "UDAPI100500"
        assert http.get(f"{upstox.base_url}/v2/order/retrieve-all", headers=auth).status_code == 200

    def test_timeout_beyond_the_client_timeout(self, http, upstox, auth):
        upstox.inject(CLIENT, "timeout", delay=0.3)
        with pytest.raises(httpx.ReadTimeout):
            http.get(f"{upstox.base_url}/v2/order/retrieve-all", headers=auth, timeout=0.05)

    @pytest.mark.parametrize("fault", ["freeze_qty", "lot_size", "duplicate_tag"])
    def test_refusals_are_order_errors(self, http, upstox, auth, fault):
        instrument, ltp = atm(http, upstox)
        upstox.inject(CLIENT, fault)
        reply = place(http, upstox, auth, instrument, ltp)
        assert reply.status_code == 400 and error_code(reply) == "UDAPI100049"

    def test_market_refused_fault(self, http, upstox, auth):
        instrument, _ = atm(http, upstox)
        upstox.inject(CLIENT, "market_refused")
        refused = place(http, upstox, auth, instrument, 0, order_type="MARKET")
        assert refused.status_code == 400
        assert "protection" in refused.json()["errors"][0]["message"]


class TestRateLimit:
    def test_eleventh_order_in_a_second_gets_429(self, http, upstox, auth):
        now = [1000.0]
        upstox.monotonic = lambda: now[0]
        instrument, ltp = atm(http, upstox)
        codes = [place(http, upstox, auth, instrument, ltp - 5).status_code for _ in range(10)]
        assert codes == [200] * RATE_LIMIT
        limited = place(http, upstox, auth, instrument, ltp - 5)
        assert limited.status_code == 429 and error_code(limited) == "UDAPI10005"
        assert http.get(f"{upstox.base_url}/v2/order/retrieve-all", headers=auth).status_code == 200
        now[0] += 1.001
        assert place(http, upstox, auth, instrument, ltp - 5).status_code == 200
