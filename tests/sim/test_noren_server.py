"""The fake Noren OMS (Shoonya, Zebu) over loopback HTTP: OAuth + GenAcsTok, jData bodies, faults."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from chalicelib.domain.masters import parse_noren_master
from sim.brokers.rate_window import RATE_LIMIT

KEY, SECRET, CLIENT = "FA12345_U", "noren-secret", "FA12345"
REDIRECT = "http://127.0.0.1:1/callback"


def oauth_code(http: httpx.Client, server) -> str:
    reply = http.get(
        f"{server.login_url_base}/OAuthlogin/authorize/oauth",
        params={"client_id": KEY, "redirect_uri": REDIRECT, "state": "st"},
    )
    assert reply.status_code == 302, reply.text
    query = parse_qs(urlparse(reply.headers["Location"]).query)
    assert query["state"] == ["st"]
    return query["code"][0]


def jdata(values: dict, jkey: str | None = None) -> bytes:
    body = "jData=" + json.dumps(values)
    return (body + (f"&jKey={jkey}" if jkey else "")).encode()


def gen_token(http, server, code: str, secret: str = SECRET) -> httpx.Response:
    checksum = hashlib.sha256(f"{KEY}{secret}{code}".encode()).hexdigest()
    return http.post(
        f"{server.base_url}/GenAcsTok", content=jdata({"code": code, "checksum": checksum})
    )


def login(http: httpx.Client, server) -> str:
    server.register_app(KEY, SECRET, CLIENT, REDIRECT)
    reply = gen_token(http, server, oauth_code(http, server))
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["stat"] == "Ok" and body["uid"] == CLIENT
    return body["access_token"]


class Noren:
    """A tiny client: POST /<Method> with jData and the Bearer token (or legacy jKey)."""

    def __init__(self, http: httpx.Client, server, token: str) -> None:
        self.http, self.server, self.token = http, server, token

    def call(self, method: str, legacy: bool = False, **values) -> httpx.Response:
        values.setdefault("uid", CLIENT)
        if legacy:
            return self.http.post(
                f"{self.server.base_url}/{method}", content=jdata(values, self.token)
            )
        return self.http.post(
            f"{self.server.base_url}/{method}",
            content=jdata(values),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "text/plain"},
        )

    def place(self, instrument, price: float, **extra) -> httpx.Response:
        values = {
            "actid": CLIENT,
            "exch": str(instrument.exchange),
            "tsym": instrument.refs["noren"].symbol,
            "qty": str(instrument.lot_size),
            "prc": f"{price:.2f}",
            "prd": "M",
            "trantype": "B",
            "prctyp": "LMT",
            "ret": "DAY",
            "remarks": "S1L1",
            "ordersource": "API",
            **extra,
        }
        return self.call("PlaceOrder", **values)

    def order(self, order_id: str) -> dict:
        return self.call("SingleOrdHist", norenordno=order_id).json()[0]


@pytest.fixture
def noren(start_server):
    return start_server("noren")


@pytest.fixture
def client(http, noren):
    return Noren(http, noren, login(http, noren))


def master(http, noren, exchange: str = "NFO"):
    return parse_noren_master(http.get(f"{noren.login_url_base}/{exchange}_symbols.txt").content)


def atm(http, noren):
    instruments = master(http, noren)
    spot = noren.exchange.spot("NIFTY")
    nearest = min(
        (i for i in instruments if str(i.underlying) == "NIFTY"),
        key=lambda i: (i.expiry, abs(i.strike - spot)),
    )
    return nearest, float(noren.exchange.ltp(nearest.key))


def placed_id(reply: httpx.Response) -> str:
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["stat"] == "Ok", body
    return body["norenordno"]


def refused(reply: httpx.Response) -> str:
    body = reply.json()
    assert body["stat"] == "Not_Ok", body
    return body["emsg"]


class TestLogin:
    def test_checksum_must_use_the_secret(self, http, noren):
        noren.register_app(KEY, SECRET, CLIENT, REDIRECT)
        reply = gen_token(http, noren, oauth_code(http, noren), secret="wrong")
        assert reply.status_code == 401 and "checksum" in refused(reply)

    def test_code_is_single_use(self, http, noren):
        noren.register_app(KEY, SECRET, CLIENT, REDIRECT)
        code = oauth_code(http, noren)
        assert gen_token(http, noren, code).status_code == 200
        assert gen_token(http, noren, code).status_code == 401

    def test_token_expires_at_five(self, http, noren, client, clock):
        assert client.call("UserDetails").json()["uid"] == CLIENT
        clock.set(clock().replace(hour=4, minute=59) + timedelta(days=1))
        assert client.call("OrderBook").status_code == 200
        clock.advance(minutes=1)
        expired = client.call("OrderBook")
        assert expired.status_code == 401 and "Session Expired" in refused(expired)

    def test_legacy_jkey_is_accepted(self, client):
        assert client.call("UserDetails", legacy=True).json()["stat"] == "Ok"

    def test_missing_token_and_other_users_uid(self, http, noren, client):
        assert (
            http.post(f"{noren.base_url}/OrderBook", content=jdata({"uid": CLIENT})).status_code
            == 401
        )
        other = client.call("OrderBook", uid="SOMEONE")
        assert "uid" in refused(other)


class TestOrders:
    def test_masters_parse_plain_and_zipped(self, http, noren):
        nfo = master(http, noren)
        assert {str(i.underlying) for i in nfo} == {"NIFTY", "BANKNIFTY", "FINNIFTY", "MIDCPNIFTY"}
        assert {str(i.underlying) for i in master(http, noren, "BFO")} == {"SENSEX"}
        packed = http.get(f"{noren.login_url_base}/NFO_symbols.txt.zip").content
        with zipfile.ZipFile(io.BytesIO(packed)) as archive:
            assert len(parse_noren_master(archive.read("NFO_symbols.txt"))) == len(nfo)

    def test_empty_book_is_no_data(self, client):
        assert refused(client.call("OrderBook")) == "no data"

    def test_place_list_history_cancel(self, http, noren, client):
        instrument, ltp = atm(http, noren)
        order_id = placed_id(client.place(instrument, ltp - 5))
        [order] = client.call("OrderBook").json()
        assert order["status"] == "OPEN" and order["remarks"] == "S1L1"
        assert order["qty"] == str(instrument.lot_size) and order["fillshares"] == "0"
        cancelled = client.call("CancelOrder", norenordno=order_id).json()
        assert cancelled["stat"] == "Ok" and cancelled["result"] == order_id
        history = client.call("SingleOrdHist", norenordno=order_id).json()
        assert [(h["status"], h["rpt"]) for h in history] == [
            ("CANCELED", "Canceled"), ("OPEN", "New"), ("PENDING", "PendingNew"),
        ]  # fmt: skip

    def test_modify_to_fill_then_trades_and_positions(self, http, noren, client):
        instrument, ltp = atm(http, noren)
        order_id = placed_id(client.place(instrument, ltp - 5))
        modified = client.call(
            "ModifyOrder",
            exch="NFO",
            tsym=instrument.refs["noren"].symbol,
            norenordno=order_id,
            prctyp="LMT",
            prc=f"{ltp + 2:.2f}",
            qty=str(instrument.lot_size),
            ret="DAY",
        )
        assert modified.json()["result"] == order_id
        order = client.order(order_id)
        assert order["status"] == "COMPLETE" and order["rpt"] == "Fill"
        [trade] = client.call("TradeBook").json()
        assert trade["norenordno"] == order_id and trade["flqty"] == str(instrument.lot_size)
        [position] = client.call("PositionBook", actid=CLIENT).json()
        assert position["tsym"] == instrument.refs["noren"].symbol
        assert position["netqty"] == str(instrument.lot_size) and position["prd"] == "M"

    def test_get_quotes_by_token(self, http, noren, client):
        instrument, ltp = atm(http, noren)
        token = instrument.refs["noren"].token
        quote = client.call("GetQuotes", exch="NFO", token=token).json()
        assert quote["stat"] == "Ok" and quote["lp"] == f"{ltp:.2f}"
        index = client.call("GetQuotes", exch="NSE", token="26000").json()
        assert index["lp"] == f"{noren.exchange.spot('NIFTY'):.2f}"

    @pytest.mark.parametrize("price_type", ["MKT", "SL-MKT"])
    def test_market_price_types_are_refused_for_api_orders(self, http, noren, client, price_type):
        instrument, _ = atm(http, noren)
        reply = client.place(instrument, 0, prctyp=price_type, trgprc="1.00")
        assert reply.status_code == 200 and "not allowed" in refused(reply)

    def test_wrong_exchange_is_an_input_error(self, http, noren, client):
        instrument, ltp = atm(http, noren)
        assert "Invalid Input" in refused(client.place(instrument, ltp, exch="BFO"))


class TestFaults:
    def test_rms_reject_after_ack(self, http, noren, client):
        instrument, ltp = atm(http, noren)
        noren.inject(CLIENT, "rms_reject")
        order = client.order(placed_id(client.place(instrument, ltp)))
        assert order["status"] == "REJECTED" and order["rejreason"].startswith("RMS")

    def test_partial_fill_leaves_the_rest_open(self, http, noren, client):
        instrument, ltp = atm(http, noren)
        noren.inject(CLIENT, "partial_fill", ratio=0.5)
        quantity = str(2 * instrument.lot_size)
        order = client.order(placed_id(client.place(instrument, ltp + 2, qty=quantity)))
        assert order["status"] == "OPEN" and order["fillshares"] == str(instrument.lot_size)

    def test_sl_cancelled_by_the_broker(self, http, noren, client):
        instrument, ltp = atm(http, noren)
        noren.inject(CLIENT, "sl_cancelled")
        reply = client.place(instrument, ltp, prctyp="SL-LMT", trgprc=f"{ltp - 5:.2f}")
        assert client.order(placed_id(reply))["status"] == "CANCELED"

    def test_ip_not_whitelisted_only_on_order_endpoints(self, http, noren, client):
        instrument, ltp = atm(http, noren)
        noren.inject(CLIENT, "ip_not_whitelisted")
        assert client.call("OrderBook").status_code == 200
        reply = client.place(instrument, ltp)
        assert reply.status_code == 403 and "not whitelisted" in refused(reply)

    def test_token_expired_mid_session(self, noren, client):
        noren.inject(CLIENT, "token_expired")
        for legacy in (False, True):
            reply = client.call("OrderBook", legacy=legacy)
            assert reply.status_code == 401 and "Invalid Session Key" in refused(reply)

    def test_server_error_then_recovery(self, noren, client):
        noren.inject(CLIENT, "server_error", status=502)
        failed = client.call("OrderBook")
        assert failed.status_code == 502 and refused(failed)
        assert client.call("UserDetails").status_code == 200

    def test_timeout_beyond_the_client_timeout(self, http, noren, client):
        noren.inject(CLIENT, "timeout", delay=0.3)
        with pytest.raises(httpx.ReadTimeout):
            http.post(
                f"{noren.base_url}/OrderBook",
                content=jdata({"uid": CLIENT}, client.token),
                timeout=0.05,
            )

    @pytest.mark.parametrize(
        ("fault", "words"),
        [("freeze_qty", "freeze"), ("lot_size", "lot size"), ("duplicate_tag", "Duplicate")],
    )
    def test_refusals_answer_not_ok(self, http, noren, client, fault, words):
        instrument, ltp = atm(http, noren)
        noren.inject(CLIENT, fault)
        reply = client.place(instrument, ltp)
        assert reply.status_code == 200 and words in refused(reply)

    def test_market_refused_fault_shows_as_the_api_refusal(self, http, noren, client):
        instrument, _ = atm(http, noren)
        noren.inject(CLIENT, "market_refused")
        assert "not allowed" in refused(client.place(instrument, 0, prctyp="MKT"))


def test_eleventh_order_in_a_second_gets_429(http, noren, client):
    now = [1000.0]
    noren.monotonic = lambda: now[0]
    instrument, ltp = atm(http, noren)
    codes = [client.place(instrument, ltp - 5).status_code for _ in range(RATE_LIMIT)]
    assert codes == [200] * RATE_LIMIT
    limited = client.place(instrument, ltp - 5)
    assert limited.status_code == 429 and refused(limited)
    assert client.call("OrderBook").status_code == 200
    now[0] += 1.001
    assert client.place(instrument, ltp - 5).status_code == 200
