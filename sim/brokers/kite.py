"""Zerodha Kite Connect v3 dialect (what ``kiteconnect`` 5.x sends and parses).

Login: ``GET /connect/login?api_key=K&v=3`` redirects to the app's redirect URL with
``request_token`` and ``status=success``. ``POST /session/token`` checks
``checksum = sha256(api_key + request_token + api_secret)``; tokens expire at 06:00 IST next day.
Requests carry ``Authorization: token api_key:access_token`` and ``X-Kite-Version: 3``; replies
are ``{"status": "success", "data": ...}`` or ``{"status": "error", "error_type": ...,
"message": ...}``. Instruments are the CSV ``chalicelib.domain.masters.kite`` parses.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.wrappers import Request, Response

from chalicelib.domain.instrument import Broker
from sim.brokers.base import FakeBrokerServer
from sim.brokers.common import BadInput, decimal_field, int_field, ist_text, money, required
from sim.brokers.kite_wire import (
    depth,
    error_body,
    master_csv,
    ok,
    order_row,
    position_row,
    trade_row,
)
from sim.brokers.refusals import Refusals, refusals
from sim.brokers.sessions import Session
from sim.brokers.wsgi import Route, redirect, route
from sim.errors import OrderRefused
from sim.orderbook import Order, OrderRequest, OrderType, Trade

VARIETIES = frozenset({"regular", "amo", "co", "iceberg", "auction"})
_TAG = re.compile(r"^[A-Za-z0-9]{1,20}$")


def order_type_field(raw: str) -> OrderType:
    """A canonical order type by Kite's name (``BadInput`` for another)."""
    try:
        return OrderType(raw)
    except ValueError as exc:
        raise BadInput(str(exc)) from None


class KiteServer(FakeBrokerServer):
    """Fake Kite Connect v3."""

    dialect = "kite"

    def routes(self) -> list[Route]:
        return [
            route("GET", "/connect/login", self.login_page, "public"),
            route("POST", "/session/token", self.token_exchange, "public"),
            route("DELETE", "/session/token", self.invalidate, "read"),
            route("GET", "/user/profile", self.profile),
            route("GET", "/user/margins", self.margins),
            route("GET", "/user/margins/{segment}", self.margins),
            route("POST", "/margins/basket", self.basket_margin),
            route("POST", "/orders/{variety}", self.place, "order"),
            route("PUT", "/orders/{variety}/{order_id}", self.modify, "order"),
            route("DELETE", "/orders/{variety}/{order_id}", self.cancel, "order"),
            route("GET", "/orders", self.orders),
            route("GET", "/orders/{order_id}", self.order_history),
            route("GET", "/orders/{order_id}/trades", self.order_trades),
            route("GET", "/trades", self.trades),
            route("GET", "/portfolio/positions", self.positions),
            route("GET", "/quote", self.quote),
            route("GET", "/quote/ltp", self.quote),
            route("GET", "/instruments", self.instruments, "public"),
            route("GET", "/instruments/{exchange}", self.instruments, "public"),
        ]

    def authenticate(self, request: Request) -> Session | None:
        header = request.headers.get("Authorization", "")
        scheme, _, credentials = header.partition(" ")
        api_key, _, token = credentials.partition(":")
        if scheme != "token" or not token:
            return None
        session = self.session_for(token)
        return session if session is not None and session.api_key == api_key else None

    def declare_refusals(self) -> Refusals:
        return refusals(
            error_body,
            token=(403, "Incorrect `api_key` or `access_token`."),
            ip="Order placement is not allowed from this IP. Register your static IP in the Kite "
            "Connect developer console. IP: {ip}",
            unknown_order=("input", "Invalid `order_id`.", 400),
            order_refused="input",
        )

    # ------------------------------------------------------------- login
    def login_page(self, request: Request, _s: Session | None, _a: dict[str, str]) -> Response:
        app = self.apps.get(request.args.get("api_key", ""))
        if app is None:
            return self.error("input", "Invalid `api_key`.", 400)
        code = self.issue_code(app.api_key)
        # Kite sends the app's own `redirect_params` (a URL-encoded query) back on the redirect.
        echoed = dict(parse_qsl(request.args.get("redirect_params", "")))
        return redirect(
            app.redirect_url,
            {**echoed, "request_token": code, "action": "login", "status": "success"},
        )

    def token_exchange(self, request: Request, _s: Session | None, _a: dict[str, str]) -> Response:
        form = request.form
        app = self.apps.get(form.get("api_key", ""))
        if app is None:
            return self.error("input", "Invalid `api_key`.", 400)
        request_token = form.get("request_token", "")
        expected = hashlib.sha256(
            (app.api_key + request_token + app.api_secret).encode()
        ).hexdigest()
        if not hmac.compare_digest(expected, form.get("checksum", "")):
            return self.error("token", "Invalid `checksum`.", 403)
        if self.redeem_code(request_token) is not app:
            return self.error("token", "Token is invalid or has expired.", 403)
        session = self.issue_session(app)
        return ok(
            {
                **self._user(app.client_id),
                "api_key": app.api_key,
                "access_token": session.token,
                "public_token": session.token[:16],
                "refresh_token": "",
                "enctoken": "",
                "login_time": ist_text(self.exchange.now()),
                "meta": {"demat_consent": "physical"},
                "avatar_url": None,
            }
        )

    def invalidate(self, request: Request, session: Session | None, _a: dict[str, str]) -> Response:
        assert session is not None
        self.sessions.pop(session.token, None)
        return ok(True)

    def _user(self, client_id: str) -> dict[str, Any]:
        return {
            "user_id": client_id,
            "user_name": f"Paper {client_id}",
            "user_shortname": client_id,
            "user_type": "individual",
            "email": f"{client_id.lower()}@example.invalid",
            "broker": "ZERODHA",
            "exchanges": ["NSE", "NFO", "BFO", "BSE"],
            "products": ["CNC", "NRML", "MIS"],
            "order_types": ["MARKET", "LIMIT", "SL", "SL-M"],
        }

    def profile(self, _r: Request, session: Session | None, _a: dict[str, str]) -> Response:
        assert session is not None
        return ok(self._user(session.client_id))

    def margins(self, _r: Request, session: Session | None, args: dict[str, str]) -> Response:
        assert session is not None
        funds = self.exchange.open_account(session.client_id).funds
        net = self.exchange.available_funds(session.client_id)
        segment = {
            "enabled": True,
            "net": money(net),
            "available": {"cash": money(funds), "live_balance": money(net),
                          "opening_balance": money(funds)},
            "utilised": {"debits": money(funds - net)},
        }  # fmt: skip
        if args.get("segment"):
            return ok(segment)
        return ok({"equity": segment, "commodity": segment})

    def basket_margin(self, request: Request, session: Session | None, _a: Any) -> Response:
        """``POST /margins/basket``: a JSON list of orders; ``initial`` / ``final`` totals."""
        assert session is not None
        orders = request.get_json(silent=True)
        if not isinstance(orders, list) or not orders:
            return self.error("input", "Invalid orders.", 400)
        try:
            legs = [
                (f"{o['exchange']}:{o['tradingsymbol']}", str(o["transaction_type"]),
                 int(o["quantity"]), Decimal(str(o.get("price") or 0)) or None)
                for o in orders
            ]  # fmt: skip
            need = self.exchange.basket_margin(legs)
        except (KeyError, TypeError, ValueError, ArithmeticError, OrderRefused):
            return self.error("input", "Invalid order in the basket.", 400)
        final = {
            "type": "equity",
            "span": money(need.span - need.benefit),
            "exposure": 0,
            "option_premium": money(need.premium),
            "additional": 0,
            "total": money(need.total),
        }
        initial = {**final, "span": money(need.span),
                   "total": money(need.span + need.premium)}  # fmt: skip
        return ok({"initial": initial, "final": final, "orders": [], "charges": {}})

    # ------------------------------------------------------------- orders
    def place(self, request: Request, session: Session | None, args: dict[str, str]) -> Response:
        assert session is not None
        order_request = self._order_request(request.form, args["variety"])
        order = self.exchange.place(session.client_id, order_request)
        return ok({"order_id": order.order_id})

    def _order_request(self, form: Any, variety: str) -> OrderRequest:
        if variety not in VARIETIES:
            raise BadInput("Invalid `variety`.")
        exchange = required(form, "exchange")
        if exchange not in ("NFO", "BFO"):
            raise BadInput("Invalid `exchange`.")
        tag = form.get("tag", "")
        if tag and not _TAG.match(tag):
            raise BadInput("Invalid `tag`: up to 20 alphanumeric characters.")
        try:
            order_type = OrderType(required(form, "order_type"))
        except ValueError:
            raise BadInput("Invalid `order_type`.") from None
        protection = form.get("market_protection")
        return OrderRequest(
            instrument=required(form, "tradingsymbol"),
            side=required(form, "transaction_type"),
            quantity=int_field(form, "quantity"),
            order_type=order_type,
            price=decimal_field(form, "price"),
            trigger_price=decimal_field(form, "trigger_price"),
            product=required(form, "product"),
            validity=form.get("validity", "DAY"),
            tag=tag,
            market_protection=None
            if protection in (None, "")
            else decimal_field(form, "market_protection"),
            variety=variety,
        )

    def modify(self, request: Request, session: Session | None, args: dict[str, str]) -> Response:
        assert session is not None
        form = request.form
        if args["variety"] not in VARIETIES:
            raise BadInput("Invalid `variety`.")
        order = self.exchange.modify(
            session.client_id,
            args["order_id"],
            quantity=int_field(form, "quantity") if form.get("quantity") else None,
            price=decimal_field(form, "price") if form.get("price") else None,
            trigger_price=(
                decimal_field(form, "trigger_price") if form.get("trigger_price") else None
            ),
            order_type=order_type_field(form["order_type"]) if form.get("order_type") else None,
        )
        return ok({"order_id": order.order_id})

    def cancel(self, _r: Request, session: Session | None, args: dict[str, str]) -> Response:
        assert session is not None
        if args["variety"] not in VARIETIES:
            raise BadInput("Invalid `variety`.")
        order = self.exchange.cancel(session.client_id, args["order_id"])
        return ok({"order_id": order.order_id})

    def order_json(self, order: Order, state: dict[str, Any] | None = None) -> dict[str, Any]:
        """An order as Kite lists it (``state``: one history entry instead of the latest)."""
        return order_row(order, self.exchange.resolve_key(order.key), state)

    def orders(self, _r: Request, session: Session | None, _a: dict[str, str]) -> Response:
        assert session is not None
        return ok([self.order_json(o) for o in self.exchange.orders(session.client_id)])

    def order_history(self, _r: Request, session: Session | None, args: dict[str, str]) -> Response:
        assert session is not None
        order = self.exchange.order(session.client_id, args["order_id"])
        return ok([self.order_json(order, state) for state in order.history])

    def _trade_json(self, trade: Trade) -> dict[str, Any]:
        return trade_row(trade, self.exchange.resolve_key(trade.key))

    def trades(self, _r: Request, session: Session | None, _a: dict[str, str]) -> Response:
        assert session is not None
        return ok([self._trade_json(t) for t in self.exchange.trades(session.client_id)])

    def order_trades(self, _r: Request, session: Session | None, args: dict[str, str]) -> Response:
        assert session is not None
        fills = [
            t for t in self.exchange.trades(session.client_id) if t.order_id == args["order_id"]
        ]
        return ok([self._trade_json(t) for t in fills])

    def positions(self, _r: Request, session: Session | None, _a: dict[str, str]) -> Response:
        assert session is not None
        rows = [
            position_row(p, self.exchange.resolve_key(p.key))
            for p in self.exchange.positions(session.client_id)
        ]
        return ok({"net": rows, "day": rows})

    def quote(self, request: Request, _s: Session | None, _a: dict[str, str]) -> Response:
        data = {}
        for name in request.args.getlist("i"):
            try:
                price = self.exchange.ltp(name)
            except OrderRefused:
                continue
            token = 0
            symbol = name.partition(":")[2]
            instrument = self.exchange.listing().find(symbol)
            if instrument is not None:
                token = int(instrument.refs[Broker.KITE].token)
            data[name] = {"instrument_token": token, "last_price": money(price)}
            if request.path == "/quote":  # the full quote carries Kite's five-level depth
                data[name]["depth"] = depth(price, instrument, self.exchange.partial_fill_lots)
        return ok(data)

    def instruments(self, _r: Request, _s: Session | None, args: dict[str, str]) -> Response:
        text = master_csv(self.exchange.instruments(), args.get("exchange"))
        return Response(text, mimetype="text/csv")
