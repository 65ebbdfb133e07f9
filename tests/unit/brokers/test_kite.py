"""Kite dialect: login, checksum, expiry, order mapping, status mapping, error bodies."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from urllib.parse import parse_qs, urlparse

import pytest

from chalicelib.adapters.brokers.kite import KiteBroker, kite_checksum
from chalicelib.ports import broker_errors as errors
from chalicelib.ports.broker import Modification, OrderStatus, OrderType, Product, Side
from tests.unit.brokers.helpers import INSTRUMENT, IST, Script, build, form, ok, order, text

ORDER_ROW = {
    "order_id": "250101000000001",
    "status": "OPEN",
    "tradingsymbol": "NIFTY26N1723950CE",
    "exchange": "NFO",
    "transaction_type": "BUY",
    "quantity": 130,
    "filled_quantity": 65,
    "average_price": 101.1,
    "tag": "S1L1E0",
    "status_message": None,
}


def test_checksum_is_sha256_of_key_token_secret():
    assert (
        kite_checksum("kitekey", "reqtok42", "kitesecret")
        == "55d93b6d51dd1d89c2836fc840f18329062bded652736cc8f08c3ca0b157aacc"
    )


def test_login_url_carries_key_version_and_state():
    url = urlparse(build(KiteBroker, Script(), session=False).login_url("st4te"))
    query = parse_qs(url.query)
    assert (url.netloc, url.path) == ("kite.zerodha.com", "/connect/login")
    assert query["api_key"] == ["kitekey"] and query["v"] == ["3"]
    assert query["redirect_params"] == ["state=st4te"]


@pytest.mark.parametrize(
    ("issued", "expires"),
    [
        (datetime(2026, 11, 16, 8, 0, tzinfo=IST), datetime(2026, 11, 17, 6, 0, tzinfo=IST)),
        (datetime(2026, 11, 16, 1, 0, tzinfo=IST), datetime(2026, 11, 16, 6, 0, tzinfo=IST)),
    ],
)
def test_exchange_code_posts_checksum_and_sets_expiry(issued, expires):
    script = Script().on(
        "POST",
        "/session/token",
        ok({"status": "success", "data": {"access_token": "acc", "user_id": "AB1234"}}),
    )
    session = build(KiteBroker, script, session=False, now=issued).exchange_code("reqtok42")
    sent = script.requests[0]
    assert form(sent) == {
        "api_key": "kitekey",
        "request_token": "reqtok42",
        "checksum": kite_checksum("kitekey", "reqtok42", "kitesecret"),
    }
    assert sent.headers["X-Kite-Version"] == "3"
    assert session.access_token == "acc" and session.user_id == "AB1234"
    assert session.expires_at == expires and session.expires_at.tzinfo is not None
    assert "acc" not in repr(session)


def test_place_sends_units_symbol_tag_and_sl_fields():
    script = Script().on(
        "POST", "/orders/regular", ok({"status": "success", "data": {"order_id": "1"}})
    )
    adapter = build(KiteBroker, script)
    ack = adapter.place(
        order(side=Side.SELL, order_type=OrderType.SL_LIMIT, price="90.05", trigger="90.00")
    )
    sent = script.requests[0]
    assert ack.order_id == "1" and not ack.recovered
    assert sent.headers["Authorization"] == "token kitekey:tok123"
    assert form(sent) == {
        "tradingsymbol": "NIFTY26N1723950CE",
        "exchange": "NFO",
        "transaction_type": "SELL",
        "order_type": "SL",
        "quantity": "130",
        "product": "MIS",
        "price": "90.05",
        "trigger_price": "90.00",
        "validity": "DAY",
        "tag": "S1L1E0",
    }


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("OPEN", OrderStatus.OPEN),
        ("COMPLETE", OrderStatus.COMPLETE),
        ("CANCELLED", OrderStatus.CANCELLED),
        ("REJECTED", OrderStatus.REJECTED),
        ("TRIGGER PENDING", OrderStatus.TRIGGER_PENDING),
        ("PUT ORDER REQ RECEIVED", OrderStatus.PENDING),
        ("VALIDATION PENDING", OrderStatus.PENDING),
        ("OPEN PENDING", OrderStatus.PENDING),
        ("MODIFY PENDING", OrderStatus.PENDING),
        ("CANCEL PENDING", OrderStatus.PENDING),
        ("SOMETHING NEW", OrderStatus.PENDING),
    ],
)
def test_status_mapping_uses_last_history_entry(raw, canonical):
    history = [dict(ORDER_ROW, status="PUT ORDER REQ RECEIVED"), dict(ORDER_ROW, status=raw)]
    script = Script().on("GET", "/orders/1", ok({"status": "success", "data": history}))
    state = build(KiteBroker, script).status("1")
    assert state.status is canonical and state.broker_status == raw


def test_partial_fill_and_rejection_message():
    script = Script().on(
        "GET",
        "/orders",
        ok(
            {
                "status": "success",
                "data": [
                    ORDER_ROW,
                    dict(
                        ORDER_ROW,
                        order_id="2",
                        status="REJECTED",
                        filled_quantity=0,
                        average_price=0,
                        status_message="RMS:Margin Exceeds",
                    ),
                ],
            }
        ),
    )
    partial, rejected = build(KiteBroker, script).order_book()
    assert partial.status is OrderStatus.OPEN
    assert (partial.filled_quantity, partial.pending_quantity) == (65, 65)
    assert partial.average_price == Decimal("101.1") and partial.side is Side.BUY
    assert rejected.status is OrderStatus.REJECTED and rejected.message == "RMS:Margin Exceeds"
    assert rejected.average_price is None


def _err(status, error_type, message):
    return ok({"status": "error", "error_type": error_type, "message": message}, status)


@pytest.mark.parametrize(
    ("reply", "expected", "retryable"),
    [
        (
            _err(403, "TokenException", "Incorrect `api_key` or `access_token`."),
            errors.AuthExpired,
            False,
        ),
        (_err(400, "InputException", "Invalid `quantity`."), errors.InvalidOrder, False),
        (
            _err(400, "OrderException", "Your order price is lower than the lower circuit limit."),
            errors.Rejected,
            False,
        ),
        (_err(400, "MarginException", "Insufficient funds."), errors.Rejected, False),
        (_err(429, "NetworkException", "Too many requests"), errors.RateLimited, True),
        (_err(503, "NetworkException", "Upstream OMS unavailable"), errors.Unavailable, True),
        (_err(500, "GeneralException", "Something went wrong"), errors.Unavailable, False),
        (text(502, "<html>Bad Gateway</html>"), errors.Unavailable, True),
        (
            _err(403, "PermissionException", "IP address not whitelisted for this app."),
            errors.IpNotAllowed,
            False,
        ),
        (_err(404, "GeneralException", "Order not found."), errors.OrderNotFound, False),
    ],
)
def test_error_bodies_map_to_broker_errors(reply, expected, retryable):
    script = (
        Script()
        .on("POST", "/orders/regular", reply)
        .on("GET", "/orders", ok({"status": "success", "data": []}))
    )
    adapter = build(KiteBroker, script, place_attempts=1)
    with pytest.raises(expected) as caught:
        adapter.place(order())
    assert type(caught.value) is expected
    assert caught.value.retryable is retryable
    assert caught.value.broker == "zerodha"
    if isinstance(reply.content, bytes) and b"error_type" in reply.content:
        assert reply.json()["message"] in caught.value.message


def test_ip_refusal_says_what_to_do():
    script = Script().on(
        "POST", "/orders/regular", _err(403, "PermissionException", "IP not whitelisted")
    )
    with pytest.raises(errors.IpNotAllowed) as caught:
        build(KiteBroker, script).place(order())
    assert "whitelist" in str(caught.value) and "static egress IP" in str(caught.value)
    assert caught.value.broker_message == "IP not whitelisted"


def test_cancel_and_modify_paths_and_fields():
    script = (
        Script()
        .on("DELETE", "/orders/regular/7", ok({"status": "success", "data": {"order_id": "7"}}))
        .on("PUT", "/orders/regular/7", ok({"status": "success", "data": {"order_id": "7"}}))
    )
    adapter = build(KiteBroker, script)
    assert adapter.cancel("7").order_id == "7"
    adapter.modify("7", Modification(price=Decimal("99.95")), request=order())
    assert form(script.calls("PUT", "/orders/regular/7")[0]) == {
        "quantity": "130",
        "price": "99.95",
        "order_type": "LIMIT",
        "validity": "DAY",
    }


def test_positions_quotes_and_instruments():
    script = (
        Script()
        .on(
            "GET",
            "/portfolio/positions",
            ok(
                {
                    "status": "success",
                    "data": {
                        "net": [
                            {
                                "tradingsymbol": "NIFTY26N1723950CE",
                                "exchange": "NFO",
                                "product": "NRML",
                                "quantity": -65,
                                "average_price": 100.5,
                                "last_price": 98.25,
                            }
                        ],
                        "day": [],
                    },
                }
            ),
        )
        .on(
            "GET",
            "/quote/ltp",
            ok(
                {
                    "status": "success",
                    "data": {"NFO:NIFTY26N1723950CE": {"instrument_token": 1, "last_price": 98.3}},
                }
            ),
        )
        .on("GET", "/instruments/NFO", text(200, "instrument_token,tradingsymbol\n1,A\n"))
        .on("GET", "/instruments/BFO", text(200, "instrument_token,tradingsymbol\n2,B\n"))
    )
    adapter = build(KiteBroker, script)
    (position,) = adapter.positions()
    assert position.net_quantity == -65 and position.product is Product.NRML
    assert adapter.quotes([INSTRUMENT]) == {INSTRUMENT.key: Decimal("98.3")}
    assert script.calls("GET", "/quote/ltp")[0].url.params.get_list("i") == [
        "NFO:NIFTY26N1723950CE"
    ]
    assert adapter.instruments() == b"instrument_token,tradingsymbol\n1,A\n2,B\n"


def test_full_quotes_give_the_best_bid_and_offer_with_their_sizes():
    empty = {"price": 0, "quantity": 0, "orders": 0}
    depth = {
        "buy": [{"price": 98.2, "quantity": 650, "orders": 3}, *[empty] * 4],
        "sell": [empty] * 5,  # nobody offering: no ask
    }
    script = Script().on(
        "GET",
        "/quote",
        ok(
            {
                "status": "success",
                "data": {
                    "NFO:NIFTY26N1723950CE": {"last_price": 98.3, "depth": depth},
                    "NFO:UNASKED": {"last_price": 1},
                },
            }
        ),
    )
    adapter = build(KiteBroker, script)
    (quote,) = adapter.depth([INSTRUMENT]).values()
    assert (quote.ltp, quote.bid, quote.bid_size) == (Decimal("98.3"), Decimal("98.2"), 650)
    assert (quote.ask, quote.ask_size) == (None, None)
