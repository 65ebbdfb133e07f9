"""The shared refusal mapping and the typed session store, without a server."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from sim.brokers.common import BadInput
from sim.brokers.refusals import refusals
from sim.brokers.sessions import App, SessionStore
from sim.errors import OrderRefused, UnknownOrder

WORDING = refusals(
    lambda kind, message: {"kind": kind, "text": message},
    token=(401, "bad token"),
    ip="IP {ip} is not registered",
    unknown_order=("not_found", "no such order", 404),
    order_refused="order",
    statuses={"input": 200},
)


def reply(response):
    return response.status_code, json.loads(response.get_data(as_text=True))


def raising(exc):
    def call():
        raise exc

    return call


@pytest.mark.parametrize(
    ("exc", "orders", "expected"),
    [
        (BadInput("Missing `qty`."), True, (200, {"kind": "input", "text": "Missing `qty`."})),
        (UnknownOrder("42"), False, (404, {"kind": "not_found", "text": "no such order"})),
        (OrderRefused("lot_size", "bad lot"), True, (400, {"kind": "order", "text": "bad lot"})),
        (OrderRefused("instrument", "no such"), False, (200, {"kind": "input", "text": "no such"})),
    ],
)
def test_guard_words_what_a_handler_raises_in_the_dialect(exc, orders, expected):
    assert reply(WORDING.guard(raising(exc), orders=orders)) == expected


def test_guard_lets_other_failures_through_to_the_servers_500():
    with pytest.raises(ZeroDivisionError):
        WORDING.guard(raising(ZeroDivisionError()), orders=True)


def test_shared_checks_use_the_declared_wording():
    assert reply(WORDING.token()) == (401, {"kind": "token", "text": "bad token"})
    assert reply(WORDING.ip("10.0.0.9")) == (
        403,
        {"kind": "ip", "text": "IP 10.0.0.9 is not registered"},
    )
    assert reply(WORDING.rate())[0] == 429
    assert reply(WORDING.no_route("GET", "/x")) == (
        404,
        {"kind": "not_found", "text": "Route not found: GET /x"},
    )


def test_login_codes_are_single_use_and_expire(clock):
    store = SessionStore(clock, None)
    app = store.register(App("key", "secret", "AB1234", "http://127.0.0.1/cb"))
    code = store.issue_code("key")
    assert store.redeem_code(code) is app
    assert store.redeem_code(code) is None  # spent
    late = store.issue_code("key")
    clock.advance(timedelta(minutes=5, seconds=1).total_seconds())
    assert store.redeem_code(late) is None


def test_sessions_persist_typed_and_expired_ones_drop(clock, tmp_path):
    state = tmp_path / "broker-test.json"
    store = SessionStore(clock, state)
    app = store.register(App("key", "secret", "AB1234", "http://127.0.0.1/cb"))
    session = store.issue(app, clock() + timedelta(hours=1))
    again = SessionStore(clock, state)
    assert again.apps == {"key": app}
    assert again.live(session.token) == session
    clock.advance(3600)
    assert again.live(session.token) is None
    assert session.token not in again.sessions
