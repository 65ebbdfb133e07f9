"""The shared policy, exercised through the Kite dialect: retries only for idempotent calls,
no blind resend of a placement (tag lookup first), pacing of order requests, session checks."""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest

from chalicelib.adapters.brokers.kite import KiteBroker
from chalicelib.ports import broker_errors as errors
from chalicelib.ports.broker import Modification, OrderStatus
from tests.unit.brokers.helpers import IST, CountingLimiter, Script, build, ok, order, text

ROW = {
    "order_id": "9",
    "status": "OPEN",
    "tradingsymbol": "NIFTY26N1723950CE",
    "transaction_type": "BUY",
    "quantity": 130,
    "filled_quantity": 0,
    "average_price": 0,
    "tag": "S1L1E0",
}
PLACED = ok({"status": "success", "data": {"order_id": "10"}})
EMPTY_BOOK = ok({"status": "success", "data": []})


def test_idempotent_status_is_retried_on_503_then_succeeds():
    script = Script().on(
        "GET",
        "/orders/9",
        text(503, "Service Unavailable"),
        httpx.ReadTimeout("slow"),
        ok({"status": "success", "data": [ROW]}),
    )
    adapter = build(KiteBroker, script)
    assert adapter.status("9").status is OrderStatus.OPEN
    assert len(script.calls("GET", "/orders/9")) == 3
    assert len(adapter.sleeps) == 2  # the injected no-op sleep was used, no real waiting


def test_idempotent_retry_gives_up_after_the_attempt_budget():
    script = Script().on("GET", "/orders/9", text(504, "Gateway Timeout"))
    with pytest.raises(errors.Unavailable):
        build(KiteBroker, script).status("9")
    assert len(script.requests) == 3


def test_500_and_auth_errors_are_not_retried_even_when_idempotent():
    script = Script().on(
        "GET",
        "/orders",
        ok({"status": "error", "error_type": "TokenException", "message": "x"}, 403),
    )
    with pytest.raises(errors.AuthExpired):
        build(KiteBroker, script).order_book()
    assert len(script.requests) == 1


def test_ambiguous_place_returns_the_order_found_by_tag_without_resending():
    script = (
        Script()
        .on("POST", "/orders/regular", text(504, "Gateway Timeout"), PLACED)
        .on("GET", "/orders", ok({"status": "success", "data": [ROW]}))
    )
    ack = build(KiteBroker, script).place(order())
    assert ack.order_id == "9" and ack.recovered
    assert script.paths() == ["POST /orders/regular", "GET /orders"]


def test_timeout_with_no_order_in_book_resends_once_after_the_lookup():
    script = (
        Script()
        .on("POST", "/orders/regular", httpx.ReadTimeout("read timed out"), PLACED)
        .on("GET", "/orders", EMPTY_BOOK)
    )
    adapter = build(KiteBroker, script)
    ack = adapter.place(order())
    assert ack.order_id == "10" and not ack.recovered
    lookups = len(adapter.config.lookup_delays)
    assert script.paths() == [
        "POST /orders/regular",
        *["GET /orders"] * lookups,
        "POST /orders/regular",
    ]


def test_a_lagging_order_book_is_looked_up_again_before_any_resend():
    """Issue #10 (9): the book showed the order only on the third look; no duplicate."""
    script = (
        Script()
        .on("POST", "/orders/regular", httpx.ReadTimeout("read timed out"), PLACED)
        .on("GET", "/orders", EMPTY_BOOK, EMPTY_BOOK, ok({"status": "success", "data": [ROW]}))
    )
    adapter = build(KiteBroker, script)
    ack = adapter.place(order())
    assert ack.order_id == "9" and ack.recovered
    assert len(script.calls("POST", "/orders/regular")) == 1
    assert sum(adapter.sleeps) >= 1.0  # the lookups spread over the order book's lag


def test_still_ambiguous_after_the_one_resend_is_unknown_never_a_third_send():
    script = (
        Script()
        .on("POST", "/orders/regular", httpx.ReadTimeout("read timed out"))
        .on("GET", "/orders", EMPTY_BOOK)
    )
    with pytest.raises(errors.Unavailable) as caught:
        build(KiteBroker, script).place(order())
    assert caught.value.sent and "unknown" in caught.value.message
    assert len(script.calls("POST", "/orders/regular")) == 2


def test_a_2xx_reply_without_an_order_id_is_looked_up_not_raised_as_a_crash():
    """Issue #10 (5): Kite's body without data.order_id raised KeyError out of the firer."""
    script = (
        Script()
        .on("POST", "/orders/regular", ok({"status": "success", "data": {}}))
        .on("GET", "/orders", ok({"status": "success", "data": [ROW]}))
    )
    ack = build(KiteBroker, script).place(order())
    assert ack.order_id == "9" and ack.recovered
    assert len(script.calls("POST", "/orders/regular")) == 1


def test_a_place_that_never_left_is_resent_without_lookup():
    script = Script().on(
        "POST", "/orders/regular", httpx.ConnectError("connection refused"), PLACED
    )
    assert build(KiteBroker, script).place(order()).order_id == "10"
    assert script.paths() == ["POST /orders/regular", "POST /orders/regular"]


def test_place_is_never_resent_when_the_lookup_fails():
    script = (
        Script()
        .on("POST", "/orders/regular", text(500, "Internal Server Error"), PLACED)
        .on("GET", "/orders", text(401, "Unauthorized"))
    )
    with pytest.raises(errors.Unavailable) as caught:
        build(KiteBroker, script).place(order())
    assert "not resent" in caught.value.message and not caught.value.retryable
    assert len(script.calls("POST", "/orders/regular")) == 1


def test_two_orders_with_the_tag_are_ambiguous_and_not_resent():
    book = ok({"status": "success", "data": [ROW, dict(ROW, order_id="11")]})
    script = (
        Script()
        .on("POST", "/orders/regular", text(502, "Bad Gateway"), PLACED)
        .on("GET", "/orders", book)
    )
    with pytest.raises(errors.Unavailable, match="2 orders carry tag"):
        build(KiteBroker, script).place(order())
    assert len(script.calls("POST", "/orders/regular")) == 1


def test_rate_limited_place_is_raised_not_resent():
    script = Script().on(
        "POST",
        "/orders/regular",
        ok(
            {"status": "error", "error_type": "NetworkException", "message": "Too many requests"},
            429,
        ),
    )
    with pytest.raises(errors.RateLimited):
        build(KiteBroker, script).place(order())
    assert script.paths() == ["POST /orders/regular"]


def test_rejection_is_final():
    script = Script().on(
        "POST",
        "/orders/regular",
        ok({"status": "error", "error_type": "OrderException", "message": "RMS rejected"}, 400),
    )
    with pytest.raises(errors.Rejected):
        build(KiteBroker, script).place(order())
    assert len(script.requests) == 1


def test_order_requests_are_paced_reads_are_not():
    limiter = CountingLimiter()
    script = (
        Script()
        .on("POST", "/orders/regular", PLACED)
        .on("DELETE", "/orders/regular/10", PLACED)
        .on("PUT", "/orders/regular/10", PLACED)
        .on("GET", "/orders", EMPTY_BOOK)
    )
    adapter = build(KiteBroker, script, limiter=limiter)
    adapter.place(order())
    adapter.modify("10", Modification(quantity=65), request=order())
    adapter.cancel("10")
    adapter.order_book()
    assert limiter.accounts == ["acct-1"] * 3


def test_each_placement_attempt_is_paced():
    limiter = CountingLimiter()
    script = (
        Script()
        .on("POST", "/orders/regular", httpx.ReadTimeout("t"), PLACED)
        .on("GET", "/orders", EMPTY_BOOK)
    )
    build(KiteBroker, script, limiter=limiter).place(order())
    assert len(limiter.accounts) == 2


def test_expired_or_missing_session_fails_before_any_request():
    script = Script()
    late = datetime(2026, 11, 17, 6, 0, tzinfo=IST)
    with pytest.raises(errors.AuthExpired, match="expired"):
        build(KiteBroker, script, now=late).order_book()
    with pytest.raises(errors.AuthExpired, match="log in"):
        build(KiteBroker, script, session=False).order_book()
    assert script.requests == []


def test_hosts_are_overridable_for_loopback_fakes():
    script = Script().on("GET", "/orders", EMPTY_BOOK)
    adapter = build(KiteBroker, script, hosts={"api": "http://127.0.0.1:9999"})
    adapter.order_book()
    assert str(script.requests[0].url) == "http://127.0.0.1:9999/orders"
