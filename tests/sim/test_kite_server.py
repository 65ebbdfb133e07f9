"""The fake Kite server over real loopback HTTP: login, checksum, expiry, orders, faults, 429."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from chalicelib.domain.masters import parse_kite_master
from sim.brokers.rate_window import RATE_LIMIT

KEY, SECRET, CLIENT = "kitekey", "kitesecret", "AB1234"


def login(http: httpx.Client, server) -> dict[str, str]:
    server.register_app(KEY, SECRET, CLIENT, "http://127.0.0.1:1/callback")
    reply = http.get(f"{server.login_url_base}/connect/login", params={"api_key": KEY, "v": 3})
    assert reply.status_code == 302
    query = parse_qs(urlparse(reply.headers["Location"]).query)
    assert query["status"] == ["success"]
    request_token = query["request_token"][0]
    checksum = hashlib.sha256((KEY + request_token + SECRET).encode()).hexdigest()
    session = http.post(
        f"{server.base_url}/session/token",
        data={"api_key": KEY, "request_token": request_token, "checksum": checksum},
        headers={"X-Kite-Version": "3"},
    )
    assert session.status_code == 200, session.text
    token = session.json()["data"]["access_token"]
    return {"Authorization": f"token {KEY}:{token}", "X-Kite-Version": "3"}


@pytest.fixture
def kite(start_server):
    return start_server("kite")


@pytest.fixture
def auth(http, kite):
    return login(http, kite)


def atm_symbol(http, kite) -> tuple[str, float]:
    master = parse_kite_master(http.get(f"{kite.base_url}/instruments/NFO").content)
    spot = kite.exchange.spot("NIFTY")
    nearest = min(master, key=lambda i: (i.expiry, abs(i.strike - spot)))
    symbol = nearest.refs["kite"].symbol
    return symbol, float(kite.exchange.ltp(symbol))


def place(http, kite, auth, symbol, price, **extra):
    form = {
        "exchange": "NFO",
        "tradingsymbol": symbol,
        "transaction_type": "BUY",
        "quantity": 65,
        "product": "NRML",
        "order_type": "LIMIT",
        "price": f"{price:.2f}",
        **extra,
    }
    return http.post(f"{kite.base_url}/orders/regular", data=form, headers=auth)


class TestLogin:
    def test_bad_checksum_is_a_token_exception(self, http, kite):
        kite.register_app(KEY, SECRET, CLIENT, "http://127.0.0.1:1/cb")
        reply = http.get(f"{kite.login_url_base}/connect/login", params={"api_key": KEY})
        token = parse_qs(urlparse(reply.headers["Location"]).query)["request_token"][0]
        bad = hashlib.sha256((KEY + token + "wrong").encode()).hexdigest()
        answer = http.post(
            f"{kite.base_url}/session/token",
            data={"api_key": KEY, "request_token": token, "checksum": bad},
        )
        assert answer.status_code == 403
        assert answer.json()["error_type"] == "TokenException"

    def test_request_token_is_single_use(self, http, kite):
        kite.register_app(KEY, SECRET, CLIENT, "http://127.0.0.1:1/cb")
        reply = http.get(f"{kite.login_url_base}/connect/login", params={"api_key": KEY})
        token = parse_qs(urlparse(reply.headers["Location"]).query)["request_token"][0]
        checksum = hashlib.sha256((KEY + token + SECRET).encode()).hexdigest()
        form = {"api_key": KEY, "request_token": token, "checksum": checksum}
        assert http.post(f"{kite.base_url}/session/token", data=form).status_code == 200
        assert http.post(f"{kite.base_url}/session/token", data=form).status_code == 403

    def test_token_expires_at_six_next_morning(self, http, kite, auth, clock):
        assert http.get(f"{kite.base_url}/user/profile", headers=auth).status_code == 200
        next_day = clock().replace(hour=5, minute=59) + timedelta(days=1)
        clock.set(next_day)
        assert http.get(f"{kite.base_url}/orders", headers=auth).status_code == 200
        clock.advance(minutes=1)
        expired = http.get(f"{kite.base_url}/orders", headers=auth)
        assert expired.status_code == 403
        assert expired.json()["error_type"] == "TokenException"

    def test_missing_auth_header(self, http, kite):
        assert http.get(f"{kite.base_url}/orders").status_code == 403


class TestOrders:
    def test_master_parses_with_our_parser(self, http, kite):
        master = parse_kite_master(http.get(f"{kite.base_url}/instruments/NFO").content)
        assert {str(i.underlying) for i in master} == {
            "NIFTY",
            "BANKNIFTY",
            "FINNIFTY",
            "MIDCPNIFTY",
        }
        bfo = parse_kite_master(http.get(f"{kite.base_url}/instruments/BFO").content)
        assert {str(i.underlying) for i in bfo} == {"SENSEX"}

    def test_place_list_history_cancel(self, http, kite, auth):
        symbol, ltp = atm_symbol(http, kite)
        placed = place(http, kite, auth, symbol, ltp - 5, tag="S1L1")
        assert placed.status_code == 200, placed.text
        order_id = placed.json()["data"]["order_id"]
        [order] = http.get(f"{kite.base_url}/orders", headers=auth).json()["data"]
        assert order["status"] == "OPEN" and order["tag"] == "S1L1"
        assert order["pending_quantity"] == 65
        cancelled = http.delete(f"{kite.base_url}/orders/regular/{order_id}", headers=auth)
        assert cancelled.json()["data"]["order_id"] == order_id
        history = http.get(f"{kite.base_url}/orders/{order_id}", headers=auth).json()["data"]
        assert [h["status"] for h in history] == ["OPEN", "CANCELLED"]

    def test_fill_shows_in_trades_and_positions(self, http, kite, auth):
        symbol, ltp = atm_symbol(http, kite)
        order_id = place(http, kite, auth, symbol, ltp + 2).json()["data"]["order_id"]
        [trade] = http.get(f"{kite.base_url}/trades", headers=auth).json()["data"]
        assert trade["order_id"] == order_id and trade["quantity"] == 65
        net = http.get(f"{kite.base_url}/portfolio/positions", headers=auth).json()["data"]["net"]
        assert net[0]["tradingsymbol"] == symbol and net[0]["quantity"] == 65

    def test_quote_ltp(self, http, kite, auth):
        symbol, ltp = atm_symbol(http, kite)
        data = http.get(
            f"{kite.base_url}/quote/ltp", params={"i": f"NFO:{symbol}"}, headers=auth
        ).json()["data"]
        assert data[f"NFO:{symbol}"]["last_price"] == ltp

    def test_unprotected_market_is_an_input_exception(self, http, kite, auth):
        symbol, _ = atm_symbol(http, kite)
        reply = place(http, kite, auth, symbol, 0, order_type="MARKET")
        assert reply.status_code == 400
        assert reply.json()["error_type"] == "InputException"
        protected = place(http, kite, auth, symbol, 0, order_type="MARKET", market_protection="-1")
        assert protected.status_code == 200

    def test_receive_times_are_recorded(self, http, kite, auth):
        symbol, ltp = atm_symbol(http, kite)
        place(http, kite, auth, symbol, ltp - 5)
        [received] = kite.received
        assert received.account == CLIENT and received.path == "/orders/regular"
        assert received.monotonic_ns > 0 and received.wall_clock.tzinfo is not None


class TestFaults:
    def test_rms_reject_after_ack(self, http, kite, auth):
        symbol, ltp = atm_symbol(http, kite)
        kite.inject(CLIENT, "rms_reject")
        order_id = place(http, kite, auth, symbol, ltp).json()["data"]["order_id"]
        history = http.get(f"{kite.base_url}/orders/{order_id}", headers=auth).json()["data"]
        assert history[-1]["status"] == "REJECTED"
        assert history[-1]["status_message"].startswith("RMS")

    def test_ip_not_whitelisted_only_on_order_endpoints(self, http, kite, auth):
        symbol, ltp = atm_symbol(http, kite)
        kite.inject(CLIENT, "ip_not_whitelisted", count=2)
        assert http.get(f"{kite.base_url}/orders", headers=auth).status_code == 200
        refused = place(http, kite, auth, symbol, ltp)
        assert refused.status_code == 403
        assert refused.json()["error_type"] == "PermissionException"
        assert "IP" in refused.json()["message"]

    def test_token_expired_mid_session(self, http, kite, auth):
        kite.inject(CLIENT, "token_expired")
        assert http.get(f"{kite.base_url}/orders", headers=auth).status_code == 403
        assert http.get(f"{kite.base_url}/orders", headers=auth).status_code == 403

    def test_server_error_then_recovery(self, http, kite, auth):
        kite.inject(CLIENT, "server_error", status=503)
        assert http.get(f"{kite.base_url}/orders", headers=auth).status_code == 503
        assert http.get(f"{kite.base_url}/orders", headers=auth).status_code == 200

    def test_timeout_beyond_the_client_timeout(self, http, kite, auth):
        kite.inject(CLIENT, "timeout", delay=0.3)
        with pytest.raises(httpx.ReadTimeout):
            http.get(f"{kite.base_url}/orders", headers=auth, timeout=0.05)

    @pytest.mark.parametrize("fault", ["freeze_qty", "lot_size", "duplicate_tag"])
    def test_refusals_are_input_exceptions(self, http, kite, auth, fault):
        symbol, ltp = atm_symbol(http, kite)
        kite.inject(CLIENT, fault)
        reply = place(http, kite, auth, symbol, ltp)
        assert reply.status_code == 400
        assert reply.json()["error_type"] == "InputException"

    def test_admin_api_arms_faults(self, http, kite, auth):
        armed = http.post(
            f"{kite.login_url_base}/_sim/faults",
            json={"account": CLIENT, "fault": "server_error", "count": 2},
        )
        assert armed.status_code == 200
        assert http.get(f"{kite.base_url}/orders", headers=auth).status_code == 500
        assert http.get(f"{kite.base_url}/orders", headers=auth).status_code == 500
        assert http.get(f"{kite.base_url}/orders", headers=auth).status_code == 200


class TestRateLimit:
    def test_eleventh_order_in_a_second_gets_429(self, http, kite, auth):
        now = [1000.0]
        kite.monotonic = lambda: now[0]
        symbol, ltp = atm_symbol(http, kite)
        codes = [place(http, kite, auth, symbol, ltp - 5).status_code for _ in range(RATE_LIMIT)]
        assert codes == [200] * RATE_LIMIT
        limited = place(http, kite, auth, symbol, ltp - 5)
        assert limited.status_code == 429
        assert http.get(f"{kite.base_url}/orders", headers=auth).status_code == 200
        now[0] += 0.999
        assert place(http, kite, auth, symbol, ltp - 5).status_code == 429
        now[0] += 0.002
        assert place(http, kite, auth, symbol, ltp - 5).status_code == 200

    def test_window_is_per_account(self, http, kite, auth):
        now = [1000.0]
        kite.monotonic = lambda: now[0]
        symbol, ltp = atm_symbol(http, kite)
        for _ in range(RATE_LIMIT):
            place(http, kite, auth, symbol, ltp - 5)
        kite.register_app("k2", "s2", "CD5678", "http://127.0.0.1:1/cb")
        reply = http.get(f"{kite.login_url_base}/connect/login", params={"api_key": "k2"})
        token = parse_qs(urlparse(reply.headers["Location"]).query)["request_token"][0]
        checksum = hashlib.sha256(("k2" + token + "s2").encode()).hexdigest()
        access = http.post(
            f"{kite.base_url}/session/token",
            data={"api_key": "k2", "request_token": token, "checksum": checksum},
        ).json()["data"]["access_token"]
        other = {"Authorization": f"token k2:{access}"}
        assert place(http, kite, other, symbol, ltp - 5).status_code == 200


def test_sessions_survive_a_restart(tmp_path, clock, http):
    from sim.exchange import SimExchange
    from sim.servers import start_fake_broker

    first = start_fake_broker("kite", SimExchange(clock=clock, state_dir=tmp_path))
    try:
        auth = login(http, first)
    finally:
        first.stop()
    second = start_fake_broker("kite", SimExchange(clock=clock, state_dir=tmp_path))
    try:
        assert http.get(f"{second.base_url}/orders", headers=auth).status_code == 200
    finally:
        second.stop()


def test_stop_order_history_shows_each_trigger_and_the_variety_is_checked(http, kite, auth):
    symbol, _ = atm_symbol(http, kite)
    kite.exchange.set_price(kite.exchange.resolve(symbol).key, Decimal("100.00"))
    placed = place(http, kite, auth, symbol, 110.25, order_type="SL", trigger_price="110.00").json()
    order_id = placed["data"]["order_id"]
    change = {"order_type": "SL", "price": "105.25", "trigger_price": "105.00", "quantity": 65}
    wrong = http.put(f"{kite.base_url}/orders/bogus/{order_id}", data=change, headers=auth)
    assert wrong.status_code == 400 and wrong.json()["error_type"] == "InputException"
    assert (
        http.put(
            f"{kite.base_url}/orders/regular/{order_id}", data=change, headers=auth
        ).status_code
        == 200
    )
    history = http.get(f"{kite.base_url}/orders/{order_id}", headers=auth).json()["data"]
    assert [(h["status"], h["trigger_price"], h["price"]) for h in history] == [
        ("TRIGGER PENDING", 110.0, 110.25),
        ("TRIGGER PENDING", 105.0, 105.25),
    ]
    assert history[-1]["variety"] == "regular" and history[-1]["order_type"] == "SL"
    gone = http.delete(f"{kite.base_url}/orders/bogus/{order_id}", headers=auth)
    assert gone.status_code == 400
    assert (
        http.delete(f"{kite.base_url}/orders/regular/{order_id}", headers=auth).json()["data"][
            "order_id"
        ]
        == order_id
    )
