"""The ``/_sim/`` admin routes every fake serves without auth, for tests and ``make run``
driving it from outside: arm faults, list received order requests, tick the exchange, pin a
contract's price, open a paper account, register an app."""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal
from typing import TYPE_CHECKING

from werkzeug.wrappers import Request, Response

from sim.brokers.wsgi import json_response
from sim.errors import OrderRefused

if TYPE_CHECKING:
    from sim.brokers.base import FakeBrokerServer


def admin(server: FakeBrokerServer, request: Request) -> Response:
    """Answer one admin request (404 for an unknown one)."""
    path, method = request.path, request.method
    if path == "/_sim/faults" and method == "POST":
        return _arm_fault(server, request)
    if path == "/_sim/received" and method == "GET":
        return json_response([asdict(r) for r in server.received])
    if path == "/_sim/tick" and method == "POST":
        server.exchange.tick()
        return json_response({"ok": True, "at": server.exchange.now().isoformat()})
    if path == "/_sim/price" and method == "POST":
        return _pin_price(server, request)
    if path == "/_sim/paper/accounts" and method == "POST":
        return _paper_account(server, request)
    if path == "/_sim/apps" and method == "POST":
        body = request.get_json(force=True)
        app = server.register_app(
            body["api_key"], body["api_secret"], body["client_id"], body["redirect_url"]
        )
        return json_response(asdict(app))
    return json_response({"error": "unknown admin route"}, 404)


def _arm_fault(server: FakeBrokerServer, request: Request) -> Response:
    body = request.get_json(force=True)
    params = {k: v for k, v in body.items() if k not in ("account", "fault", "count")}
    try:
        server.inject(body["account"], body["fault"], int(body.get("count", 1)), **params)
    except (KeyError, ValueError) as exc:
        return json_response({"error": str(exc)}, 400)
    return json_response({"armed": body["fault"], "account": body["account"]})


def _paper_account(server: FakeBrokerServer, request: Request) -> Response:
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict) or not str(body.get("client_id") or ""):
        return json_response({"error": "a JSON body with client_id is required"}, 400)
    session = server.open_paper_account(str(body["client_id"]))
    return json_response(
        {
            "access_token": session.token,
            "api_key": session.api_key,
            "user_id": session.client_id,
            "expires_at": session.expires_at.isoformat(),
        }
    )


def _pin_price(server: FakeBrokerServer, request: Request) -> Response:
    """``{"instrument": <any listed name or token>, "price": "105.10" | null}``: pin / release."""
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        return json_response({"error": "a JSON object body is required"}, 400)
    exchange = server.exchange
    try:
        instrument = exchange.resolve(str(body["instrument"]))
        price = body.get("price")
        ltp = exchange.set_price(instrument.key, None if price is None else Decimal(str(price)))
    except OrderRefused as exc:
        return json_response({"error": exc.message}, 400)
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        return json_response({"error": str(exc)}, 400)
    pinned = instrument.key in exchange.pins()
    return json_response({"instrument": body["instrument"], "ltp": str(ltp), "pinned": pinned})
