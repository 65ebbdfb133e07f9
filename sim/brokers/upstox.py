"""Upstox dialect: API v2 (login, reads) and v3 (orders), as ``upstox-python-sdk`` 2.x speaks them.

Login: the browser opens ``GET /v2/login/authorization/dialog?response_type=code&client_id=..
&redirect_uri=..&state=..`` and is redirected to ``redirect_uri`` with ``code`` and ``state``.
``POST /v2/login/authorization/token`` (form: code, client_id, client_secret, redirect_uri,
grant_type=authorization_code) is Upstox's "checksum": the secret and the redirect URI must match
the app's, the code must be live and unused. It answers the profile and ``access_token`` flat (no
envelope); tokens expire at 03:30 IST the next day. Calls send ``Authorization: Bearer <token>``.

Replies are ``{"status": "success", "data": ...}`` (v3 adds ``metadata.latency``); errors are
``{"status": "error", "errors": [{"errorCode": "UDAPI...", "message", "propertyPath",
"invalidValue"}]}`` with the snake_case spellings too (Upstox emits both while it deprecates the
camelCase ones). Real codes: UDAPI100050 invalid token (401), UDAPI10005 too many requests (429);
the static-IP code (UDAPI1154) and the order/input codes are close to, not copies of, Upstox's.

MARKET / SL-M: an absent ``market_protection`` means Upstox's automatic protection (accepted);
an explicit 0 is unprotected and refused. ``slice: true`` splits a quantity above the freeze
limit into freeze-sized orders (one id each), as Upstox's auto-slicing does.

Instrument master (public, no auth): ``/instruments/complete.json`` (plain JSON array) and
``/market-quote/instruments/exchange/complete.json.gz`` (gzip, the path the platform's adapter
reads from assets.upstox.com); ``chalicelib.domain.masters.upstox`` parses both.
"""

from __future__ import annotations

import gzip
import hmac
import json
import time
from datetime import datetime
from decimal import Decimal
from typing import Any

from werkzeug.wrappers import Request, Response

from chalicelib.domain.instrument import Broker
from sim.brokers.base import FakeBrokerServer
from sim.brokers.common import (
    BadInput,
    basket_requirement,
    decimal_field,
    int_field,
    json_body,
    money,
    required,
)
from sim.brokers.refusals import Refusals, refusals
from sim.brokers.sessions import Session, next_at
from sim.brokers.upstox_wire import (
    ERRORS,
    error_body,
    history_rows,
    master_rows,
    order_row,
    position_row,
    success,
    trade_row,
)
from sim.brokers.wsgi import Route, json_response, redirect, route
from sim.errors import OrderRefused, UnknownOrder
from sim.orderbook import Order, OrderRequest, OrderType, Trade

PRODUCTS = frozenset({"I", "D"})
#: Where assets.upstox.com publishes the BOD master (served here on the API host).
MASTER_PATH = "/market-quote/instruments/exchange/complete.json"


def order_type_field(raw: str) -> OrderType:
    """A canonical order type by Upstox's name (``BadInput`` for another)."""
    try:
        return OrderType(raw)
    except ValueError as exc:
        raise BadInput(str(exc)) from None


class UpstoxServer(FakeBrokerServer):
    """Fake Upstox (v2 and v3 on one host: ``base_url`` stands for api and api-hft)."""

    dialect = "upstox"

    def expiry_for(self, issued: datetime) -> datetime:
        return next_at(issued, 3, 30)

    def routes(self) -> list[Route]:
        return [
            route("GET", "/v2/login/authorization/dialog", self.login_dialog, "public"),
            route("POST", "/v2/login/authorization/token", self.token_exchange, "public"),
            route("DELETE", "/v2/logout", self.logout),
            route("GET", "/v2/user/profile", self.profile),
            route("POST", "/v3/order/place", self.place_v3, "order"),
            route("POST", "/v2/order/place", self.place_v2, "order"),
            route("PUT", "/v3/order/modify", self.modify, "order"),
            route("PUT", "/v2/order/modify", self.modify, "order"),
            route("DELETE", "/v3/order/cancel", self.cancel, "order"),
            route("DELETE", "/v2/order/cancel", self.cancel, "order"),
            route("GET", "/v2/order/retrieve-all", self.order_book),
            route("GET", "/v2/order/details", self.details),
            route("GET", "/v2/order/history", self.history),
            route("GET", "/v2/order/trades/get-trades-for-day", self.trades),
            route("GET", "/v2/order/trades", self.trades),
            route("GET", "/v2/portfolio/short-term-positions", self.positions),
            route("POST", "/v2/charges/margin", self.margin),
            route("GET", "/v2/user/get-funds-and-margin", self.funds),
            route("GET", "/v2/market-quote/ltp", self.ltp),
            route("GET", "/v3/market-quote/ltp", self.ltp),
            route("GET", "/instruments/complete.json", self.master, "public"),
            route("GET", "/instruments/complete.json.gz", self.master_gz, "public"),
            route("GET", f"{MASTER_PATH}.gz", self.master_gz, "public"),
        ]

    def authenticate(self, request: Request) -> Session | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return self.session_for(token) if scheme.lower() == "bearer" and token else None

    def declare_refusals(self) -> Refusals:
        return refusals(
            error_body,
            token=(401, "Invalid token used to access API"),
            ip="Request from IP {ip} is not whitelisted. Orders are accepted only from the "
            "static IP registered for this app.",
            unknown_order=("not_found", "Order not found", 404),
        )

    def upstox_error(
        self,
        kind: str,
        message: str,
        status: int,
        property_path: str | None = None,
        invalid_value: Any = None,
    ) -> Response:
        """The error envelope, naming the offending field when there is one."""
        return json_response(error_body(kind, message, property_path, invalid_value), status)

    # ------------------------------------------------------------- login
    def login_dialog(self, request: Request, _s: Session | None, _a: dict[str, str]) -> Response:
        args = request.args
        app = self.apps.get(args.get("client_id", ""))
        if app is None:
            return self.upstox_error("login", "Invalid client_id", 401, "client_id")
        if args.get("response_type") != "code":
            return self.upstox_error("input", "Invalid response_type", 400, "response_type")
        if args.get("redirect_uri") != app.redirect_url:
            return self.upstox_error("login", "Check your 'redirect_uri'", 400, "redirect_uri")
        params = {"code": self.issue_code(app.api_key)}
        if args.get("state"):
            params["state"] = args["state"]
        return redirect(app.redirect_url, params)

    def token_exchange(self, request: Request, _s: Session | None, _a: dict[str, str]) -> Response:
        form = request.form
        app = self.apps.get(form.get("client_id", ""))
        if app is None or not hmac.compare_digest(app.api_secret, form.get("client_secret", "")):
            return self.upstox_error("login", "Invalid Credentials", 401, "client_secret")
        if form.get("grant_type") != "authorization_code":
            return self.upstox_error("input", "Invalid grant_type", 400, "grant_type")
        if form.get("redirect_uri") != app.redirect_url:
            return self.upstox_error("login", "Check your 'redirect_uri'", 400, "redirect_uri")
        if self.redeem_code(form.get("code", "")) is not app:
            return self.upstox_error("code", "Invalid Auth code", 400, "code")
        session = self.issue_session(app)
        return json_response(
            {**self._user(app.client_id), "access_token": session.token, "extended_token": None}
        )

    def _user(self, client_id: str) -> dict[str, Any]:
        return {
            "email": f"{client_id.lower()}@example.invalid",
            "exchanges": ["NSE", "NFO", "BSE", "BFO"],
            "products": ["D", "I"],
            "broker": "UPSTOX",
            "user_id": client_id,
            "user_name": f"Paper {client_id}",
            "order_types": ["MARKET", "LIMIT", "SL", "SL-M"],
            "user_type": "individual",
            "poa": False,
            "is_active": True,
        }

    def logout(self, _r: Request, session: Session | None, _a: dict[str, str]) -> Response:
        assert session is not None
        self.sessions.pop(session.token, None)
        return success(True)

    def profile(self, _r: Request, session: Session | None, _a: dict[str, str]) -> Response:
        assert session is not None
        return success(self._user(session.client_id))

    # ------------------------------------------------------------- orders
    def _order_request(self, body: dict[str, Any], quantity: int | None = None) -> OrderRequest:
        product = required(body, "product")
        if product not in PRODUCTS:
            raise BadInput("Invalid product: I (intraday) or D (delivery / carry forward)")
        try:
            order_type = OrderType(required(body, "order_type"))
        except ValueError:
            raise BadInput("Invalid order_type") from None
        market = order_type in (OrderType.MARKET, OrderType.SL_M)
        protection = body.get("market_protection")
        if protection is None or protection == "":
            protection_value = Decimal(-1) if market else None
        else:
            protection_value = decimal_field(body, "market_protection")
        return OrderRequest(
            instrument=required(body, "instrument_token"),
            side=required(body, "transaction_type"),
            quantity=quantity if quantity is not None else int_field(body, "quantity"),
            order_type=order_type,
            price=Decimal(0) if market else decimal_field(body, "price"),
            trigger_price=decimal_field(body, "trigger_price"),
            product=product,
            validity=str(body.get("validity") or "DAY"),
            tag=str(body.get("tag") or ""),
            market_protection=protection_value,
            variety="amo" if body.get("is_amo") else "regular",
        )

    def _slices(self, body: dict[str, Any]) -> list[int]:
        """Quantities to place: one, or freeze-limit chunks when ``slice`` asks for them."""
        quantity = int_field(body, "quantity")
        if not body.get("slice"):
            return [quantity]
        try:
            instrument = self.exchange.resolve(required(body, "instrument_token"))
        except OrderRefused:
            return [quantity]
        freeze = instrument.freeze_qty or 0
        chunk = (freeze // instrument.lot_size) * instrument.lot_size
        if not chunk or quantity <= chunk:
            return [quantity]
        return [chunk] * (quantity // chunk) + ([quantity % chunk] if quantity % chunk else [])

    def margin(self, request: Request, session: Session | None, _a: dict[str, str]) -> Response:
        """``POST /v2/charges/margin``: per-instrument margins and ``final_margin``."""
        assert session is not None
        need = basket_requirement(
            self.exchange, json_body(request).get("instruments"),
            lambda r: str(required(r, "instrument_key")),
            lambda r: str(required(r, "transaction_type")), "quantity", "price",
        )  # fmt: skip
        return success({"margins": [], "required_margin": money(need.span + need.premium),
                        "final_margin": money(need.total)})  # fmt: skip

    def funds(self, _r: Request, session: Session | None, _a: dict[str, str]) -> Response:
        """``GET /v2/user/get-funds-and-margin``: the equity segment."""
        assert session is not None
        funds = self.exchange.open_account(session.client_id).funds
        net = self.exchange.available_funds(session.client_id)
        equity = {"used_margin": money(funds - net), "payin_amount": 0, "span_margin": 0,
                  "adhoc_margin": 0, "notional_cash": 0, "available_margin": money(net),
                  "exposure_margin": 0}  # fmt: skip
        return success({"equity": equity, "commodity": {**equity, "available_margin": 0}})

    def place_v3(self, request: Request, session: Session | None, _a: dict[str, str]) -> Response:
        assert session is not None
        started = time.perf_counter()
        body = json_body(request)
        requests = [self._order_request(body, quantity) for quantity in self._slices(body)]
        order_ids: list[str] = []
        for order_request in requests:
            try:
                order_ids.append(self.exchange.place(session.client_id, order_request).order_id)
            except OrderRefused as exc:
                if not order_ids:
                    return self.upstox_error("order", exc.message, 400)
                return json_response(
                    {
                        "status": "partial_success",
                        "data": {"order_ids": order_ids},
                        "errors": [{"errorCode": ERRORS["order"], "message": exc.message}],
                        "metadata": {"latency": int((time.perf_counter() - started) * 1000)},
                    }
                )
        return success({"order_ids": order_ids}, v3=True, started=started)

    def place_v2(self, request: Request, session: Session | None, _a: dict[str, str]) -> Response:
        assert session is not None
        order = self.exchange.place(session.client_id, self._order_request(json_body(request)))
        return success({"order_id": order.order_id})

    def modify(self, request: Request, session: Session | None, _a: dict[str, str]) -> Response:
        assert session is not None
        started = time.perf_counter()
        body = json_body(request)
        order_type = body.get("order_type")
        try:
            order = self.exchange.modify(
                session.client_id,
                required(body, "order_id"),
                quantity=int_field(body, "quantity") if body.get("quantity") else None,
                price=decimal_field(body, "price") if body.get("price") else None,
                trigger_price=(
                    decimal_field(body, "trigger_price") if body.get("trigger_price") else None
                ),
                order_type=order_type_field(order_type) if order_type else None,
            )
        except UnknownOrder:
            return self.upstox_error("not_found", "Order not found", 404, "order_id")
        v3 = request.path.startswith("/v3/")
        return success({"order_id": order.order_id}, v3=v3, started=started)

    def cancel(self, request: Request, session: Session | None, _a: dict[str, str]) -> Response:
        assert session is not None
        started = time.perf_counter()
        order_id = request.args.get("order_id", "")
        try:
            order = self.exchange.cancel(session.client_id, order_id)
        except UnknownOrder:
            return self.upstox_error("not_found", "Order not found", 404, "order_id", order_id)
        except OrderRefused as exc:
            return self.upstox_error("order", exc.message, 400, "order_id", order_id)
        v3 = request.path.startswith("/v3/")
        return success({"order_id": order.order_id}, v3=v3, started=started)

    def order_json(self, order: Order, state: dict[str, Any] | None = None) -> dict[str, Any]:
        """An order as Upstox lists it (``state``: one history entry instead of the latest)."""
        return order_row(order, self.exchange.resolve_key(order.key), state)

    def order_book(self, _r: Request, session: Session | None, _a: dict[str, str]) -> Response:
        assert session is not None
        return success([self.order_json(o) for o in self.exchange.orders(session.client_id)])

    def _order(self, request: Request, session: Session) -> Order:
        order_id = request.args.get("order_id", "")
        if not order_id:
            raise BadInput("order_id is required")
        return self.exchange.order(session.client_id, order_id)

    def details(self, request: Request, session: Session | None, _a: dict[str, str]) -> Response:
        assert session is not None
        try:
            return success(self.order_json(self._order(request, session)))
        except BadInput as exc:
            return self.upstox_error("input", str(exc), 400, "order_id")
        except UnknownOrder:
            return self.upstox_error("not_found", "Order not found", 404, "order_id")

    def history(self, request: Request, session: Session | None, _a: dict[str, str]) -> Response:
        assert session is not None
        try:
            order = self._order(request, session)
        except BadInput as exc:
            return self.upstox_error("input", str(exc), 400, "order_id")
        except UnknownOrder:
            return self.upstox_error("not_found", "Order not found", 404, "order_id")
        return success(history_rows(order, self.exchange.resolve_key(order.key)))

    def _trade_json(self, trade: Trade) -> dict[str, Any]:
        return trade_row(trade, self.exchange.resolve_key(trade.key))

    def trades(self, request: Request, session: Session | None, _a: dict[str, str]) -> Response:
        assert session is not None
        wanted = request.args.get("order_id")
        return success(
            [
                self._trade_json(t)
                for t in self.exchange.trades(session.client_id)
                if not wanted or t.order_id == wanted
            ]
        )

    def positions(self, _r: Request, session: Session | None, _a: dict[str, str]) -> Response:
        assert session is not None
        positions = self.exchange.positions(session.client_id)
        return success([position_row(p, self.exchange.resolve_key(p.key)) for p in positions])

    def ltp(self, request: Request, session: Session | None, _a: dict[str, str]) -> Response:
        """Keys of ``data`` are ``SEGMENT:trading symbol``; each row names its instrument key."""
        assert session is not None
        raw = request.args.get("instrument_key", "")
        data: dict[str, dict[str, Any]] = {}
        for key in filter(None, (k.strip() for k in raw.split(","))):
            try:
                price = self.exchange.ltp(key)
            except OrderRefused:
                continue
            segment, _, name = key.partition("|")
            instrument = self.exchange.listing().find(key)
            label = instrument.refs[Broker.UPSTOX].symbol if instrument is not None else name
            data[f"{segment}:{label}"] = {"last_price": money(price), "instrument_token": key}
        if not data and raw:
            return self.upstox_error("input", "Invalid Instrument key", 400, "instrument_key", raw)
        return success(data)

    # ------------------------------------------------------------- master
    def _master_rows(self) -> list[dict[str, Any]]:
        return master_rows(self.exchange.instruments())

    def master(self, _r: Request, _s: Session | None, _a: dict[str, str]) -> Response:
        return Response(json.dumps(self._master_rows()), mimetype="application/json")

    def master_gz(self, _r: Request, _s: Session | None, _a: dict[str, str]) -> Response:
        payload = gzip.compress(json.dumps(self._master_rows()).encode(), mtime=0)
        return Response(payload, mimetype="application/gzip")
