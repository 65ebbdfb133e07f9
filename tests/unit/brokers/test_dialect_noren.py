"""Noren (Shoonya, Zebu) adapter: login / checksum / expiry, the order mapping, status enums, the
broker's real error bodies and quotes, over httpx.MockTransport."""

from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import unquote

import pytest

from chalicelib.adapters.brokers.noren import ShoonyaBroker, ZebuBroker, noren_checksum
from chalicelib.ports import broker_errors as errors
from chalicelib.ports.broker import OrderStatus, Side
from tests.unit.brokers.helpers import (
    INSTRUMENT,
    SL_SELL,
    Script,
    build,
    ok,
    order,
    text,
)


def noren_data(request) -> dict:
    raw = request.content.decode()
    assert raw.startswith("jData=")
    return json.loads(raw.removeprefix("jData="))


def test_noren_checksum_is_sha256_of_client_secret_code():
    assert (
        noren_checksum("kitekey", "kitesecret", "code9")
        == "41dc1b44a31dc58d2022c8370af8f6150303986da44ecbb3118aa81663f53c60"
    )


NOREN_ORDER = {
    "stat": "Ok",
    "norenordno": "24111600000123",
    "status": "OPEN",
    "tsym": "NIFTY17NOV26C23950",
    "trantype": "B",
    "qty": "130",
    "fillshares": "65",
    "avgprc": "101.05",
    "remarks": "S1L1E0",
}


@pytest.mark.parametrize("cls", [ShoonyaBroker, ZebuBroker])
def test_noren_oauth_exchange_and_jdata_place(cls):
    script = (
        Script()
        .on(
            "POST",
            "/NorenWClientAPI/GenAcsTok",
            ok({"stat": "Ok", "access_token": "nr-tok", "uid": "AB1234"}),
        )
        .on(
            "POST",
            "/NorenWClientAPI/PlaceOrder",
            ok(
                {
                    "request_time": "09:20:00 16-11-2026",
                    "stat": "Ok",
                    "norenordno": "24111600000123",
                }
            ),
        )
    )
    adapter = build(cls, script, session=False)
    assert unquote(adapter.login_url("s")).count("client_id=kitekey") == 1
    session = adapter.exchange_code("code9")
    assert noren_data(script.requests[0]) == {
        "code": "code9",
        "checksum": noren_checksum("kitekey", "kitesecret", "code9"),
    }
    assert session.access_token == "nr-tok"
    build(cls, script).place(order(**SL_SELL))
    sent = script.requests[-1]
    assert sent.url.host == ("api.shoonya.com" if cls is ShoonyaBroker else "go.mynt.in")
    assert sent.headers["Authorization"] == "Bearer tok123"
    assert noren_data(sent) == {
        "uid": "AB1234",
        "actid": "AB1234",
        "exch": "NFO",
        "tsym": "NIFTY17NOV26C23950",
        "qty": "130",
        "prc": "90.05",
        "prd": "I",
        "trantype": "S",
        "prctyp": "SL-LMT",
        "ret": "DAY",
        "remarks": "S1L1E0",
        "ordersource": "API",
        "dscqty": "0",
        "trgprc": "90.00",
    }


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("OPEN", OrderStatus.OPEN),
        ("COMPLETE", OrderStatus.COMPLETE),
        ("CANCELED", OrderStatus.CANCELLED),
        ("REJECTED", OrderStatus.REJECTED),
        ("TRIGGER_PENDING", OrderStatus.TRIGGER_PENDING),
        ("PENDING", OrderStatus.PENDING),
    ],
)
def test_noren_status_uses_newest_history_entry(raw, canonical):
    history = [dict(NOREN_ORDER, status=raw), dict(NOREN_ORDER, status="PENDING")]
    script = Script().on("POST", "/NorenWClientAPI/SingleOrdHist", ok(history))
    state = build(ShoonyaBroker, script).status("24111600000123")
    assert state.status is canonical and state.side is Side.BUY and state.filled_quantity == 65


def test_noren_empty_order_book_is_no_data():
    script = Script().on(
        "POST",
        "/NorenWClientAPI/OrderBook",
        ok({"stat": "Not_Ok", "emsg": 'Error Occurred : 5 "no data"'}),
    )
    assert build(ShoonyaBroker, script).order_book() == []


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (
            ok({"stat": "Not_Ok", "emsg": "Session Expired :  Invalid Session Key"}),
            errors.AuthExpired,
        ),
        (ok({"stat": "Not_Ok", "emsg": "Invalid Input : Invalid Price"}), errors.InvalidOrder),
        (
            ok({"stat": "Not_Ok", "emsg": "RMS:Margin Exceeds,Required:1000, Available:10"}),
            errors.Rejected,
        ),
        (
            ok({"stat": "Not_Ok", "emsg": "Request not allowed from this IP, whitelist it"}),
            errors.IpNotAllowed,
        ),
        (text(429, "Too Many Requests"), errors.RateLimited),
        (text(502, "Bad Gateway"), errors.Unavailable),
    ],
)
def test_noren_error_bodies(reply, expected):
    script = (
        Script()
        .on("POST", "/NorenWClientAPI/PlaceOrder", reply)
        .on("POST", "/NorenWClientAPI/OrderBook", ok({"stat": "Not_Ok", "emsg": "no data"}))
    )
    with pytest.raises(expected):
        build(ShoonyaBroker, script, place_attempts=1).place(order())


def test_noren_quotes_map_back_to_contracts():
    cls, method, path, reply = (
        ShoonyaBroker,
        "POST",
        "/NorenWClientAPI/GetQuotes",
        ok({"stat": "Ok", "lp": "98.30"}),
    )
    script = Script().on(method, path, reply)
    assert build(cls, script).quotes([INSTRUMENT]) == {INSTRUMENT.key: Decimal("98.3")}, cls
