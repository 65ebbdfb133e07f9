"""Fyers API v3 dialect (what ``fyers-apiv3`` 3.x sends and parses).

Login: the browser opens ``GET /api/v3/generate-authcode?client_id=APPID-100&redirect_uri=..
&response_type=code&state=..`` and is redirected with ``auth_code`` (and ``state``). ``POST
/api/v3/validate-authcode`` JSON ``{grant_type: authorization_code, appIdHash, code}`` checks
``appIdHash = sha256("<app_id>:<app_secret>")`` and answers ``{"s": "ok", "code": 200,
"access_token", "refresh_token"}``. Tokens expire at 00:00 IST (the platform's early rule; Fyers
says "valid for the trading day" without an hour). Calls send ``Authorization:
<app_id>:<access_token>``.

Replies are ``{"s": "ok", "code": ..., "message": ...}`` plus the payload; errors ``{"s":
"error", "code": -<n>, "message"}``: -16 bad / expired token (401), -429 rate limit (429), -50
invalid input, -99 order refused, -51 unknown order id; the static-IP refusal (-363) is close to,
not a copy of, Fyers's wording. The 10 requests/s limit is one window per app over every
authenticated call (Fyers limits the app, not the order endpoints); the 200/min cap is not
simulated. Fyers protects MARKET / SL-M orders itself (the ``market_refused`` fault still refuses
one).

Hosts, all on this server: API ``base_url`` = ``http://127.0.0.1:PORT/api/v3``; market data
``http://127.0.0.1:PORT/data`` (``/data/quotes?symbols=NSE:..,..``, as api-t1.fyers.in/data);
symbol masters ``/sym_details/NSE_FO.csv`` and ``/sym_details/BSE_FO.csv`` (public.fyers.in),
headerless CSVs that ``chalicelib.domain.masters.fyers`` parses.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from decimal import Decimal
from typing import Any

from werkzeug.wrappers import Request, Response

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
from sim.brokers.fyers_wire import (
    ORDER_TYPES,
    SIDES,
    error_body,
    master_csv,
    ok,
    order_row,
    position_row,
    trade_row,
)
from sim.brokers.refusals import Refusals, refusals
from sim.brokers.sessions import App, Session, next_at
from sim.brokers.wsgi import Route, redirect, route
from sim.errors import OrderRefused
from sim.orderbook import Order, OrderRequest, OrderType, Trade

API = "/api/v3"
PRODUCTS = frozenset({"INTRADAY", "MARGIN"})
INDEX_SYMBOLS = {
    "NSE:NIFTY50-INDEX": "NIFTY",
    "NSE:NIFTYBANK-INDEX": "BANKNIFTY",
    "NSE:FINNIFTY-INDEX": "FINNIFTY",
    "NSE:MIDCPNIFTY-INDEX": "MIDCPNIFTY",
    "BSE:SENSEX-INDEX": "SENSEX",
}


def app_id_hash(app_id: str, secret: str) -> str:
    """``appIdHash``: hex sha256 of ``"<app_id>:<app_secret>"``."""
    return hashlib.sha256(f"{app_id}:{secret}".encode()).hexdigest()


class FyersServer(FakeBrokerServer):
    """Fake Fyers v3 (``base_url`` = host + ``/api/v3``; data under ``/data``)."""

    dialect = "fyers"
    api_prefix = API

    def expiry_for(self, issued: datetime) -> datetime:
        return next_at(issued, 0, 0)

    def rate_limited(self, kind: str) -> bool:
        return True

    def rate_key(self, session: Session) -> str:
        return f"app:{session.api_key}"

    @property
    def data_url(self) -> str:
        """Root of the market-data endpoints (``{data_url}/quotes``)."""
        return f"http://{self.host}:{self.port}/data"

    def routes(self) -> list[Route]:
        return [
            route("GET", f"{API}/generate-authcode", self.login_page, "public"),
            route("POST", f"{API}/validate-authcode", self.validate_authcode, "public"),
            route("GET", f"{API}/profile", self.profile),
            route("POST", f"{API}/orders/sync", self.place, "order"),
            route("PATCH", f"{API}/orders/sync", self.modify, "order"),
            route("DELETE", f"{API}/orders/sync", self.cancel, "order"),
            route("GET", f"{API}/orders", self.order_book),
            route("GET", f"{API}/tradebook", self.trade_book),
            route("GET", f"{API}/positions", self.positions),
            route("POST", f"{API}/multiorder/margin", self.margin),
            route("GET", f"{API}/funds", self.funds),
            route("GET", "/data/quotes", self.quotes),
            route("GET", "/sym_details/NSE_FO.csv", self.master, "public"),
            route("GET", "/sym_details/BSE_FO.csv", self.master, "public"),
        ]

    def authenticate(self, request: Request) -> Session | None:
        app_id, _, token = request.headers.get("Authorization", "").partition(":")
        if not token:
            return None
        session = self.session_for(token.strip())
        return session if session is not None and session.api_key == app_id.strip() else None

    def declare_refusals(self) -> Refusals:
        return refusals(
            error_body,
            token=(401, "Could not authenticate the user: the token is invalid or has expired"),
            ip="Request from IP {ip} is not whitelisted. Orders are accepted only from the "
            "static IP registered for this app.",
            unknown_order=("not_found", "Invalid order id", 400),
        )

    # ------------------------------------------------------------- login
    def login_page(self, request: Request, _s: Session | None, _a: dict[str, str]) -> Response:
        args = request.args
        app = self.apps.get(args.get("client_id", ""))
        if app is None:
            return self.error("input", "Invalid client_id", 400)
        if args.get("redirect_uri") != app.redirect_url:
            return self.error("input", "Invalid redirect_uri for this app", 400)
        params = {"s": "ok", "code": "200", "auth_code": self.issue_code(app.api_key)}
        if args.get("state"):
            params["state"] = args["state"]
        return redirect(app.redirect_url, params)

    def _app_for_hash(self, digest: str) -> App | None:
        for app in list(self.apps.values()):
            if hmac.compare_digest(app_id_hash(app.api_key, app.api_secret), digest):
                return app
        return None

    def validate_authcode(
        self, request: Request, _s: Session | None, _a: dict[str, str]
    ) -> Response:
        body = json_body(request)
        digest, code = required(body, "appIdHash"), required(body, "code")
        if body.get("grant_type") != "authorization_code":
            return self.error("input", "Invalid grant_type", 400)
        app = self._app_for_hash(digest)
        if app is None:
            return self.error("token", "Invalid appIdHash", 401)
        if self.redeem_code(code) is not app:
            return self.error("token", "Invalid or expired auth code", 401)
        session = self.issue_session(app)
        return ok(access_token=session.token, refresh_token=f"r{session.token}")

    def profile(self, _r: Request, session: Session | None, _a: dict[str, str]) -> Response:
        assert session is not None
        return ok(
            data={
                "fy_id": session.client_id,
                "name": f"Paper {session.client_id}",
                "email_id": f"{session.client_id.lower()}@example.invalid",
            }
        )

    # ------------------------------------------------------------- orders
    def _order_request(self, body: dict[str, Any]) -> OrderRequest:
        order_type = ORDER_TYPES.get(int_field(body, "type"))
        side = SIDES.get(int_field(body, "side"))
        if order_type is None:
            raise BadInput("Invalid order type")
        if side is None:
            raise BadInput("Invalid side")
        product = required(body, "productType")
        if product not in PRODUCTS:
            raise BadInput("Invalid productType")
        market = order_type in (OrderType.MARKET, OrderType.SL_M)
        return OrderRequest(
            instrument=required(body, "symbol"),
            side=side,
            quantity=int_field(body, "qty"),
            order_type=order_type,
            price=Decimal(0) if market else decimal_field(body, "limitPrice"),
            trigger_price=decimal_field(body, "stopPrice"),
            product=product,
            validity=str(body.get("validity") or "DAY"),
            tag=str(body.get("orderTag") or ""),
            market_protection=Decimal(-1) if market else None,
        )

    def margin(self, request: Request, session: Session | None, _a: dict[str, str]) -> Response:
        """``POST /multiorder/margin``: ``margin_new_order`` and what is available."""
        assert session is not None
        need = basket_requirement(
            self.exchange, json_body(request).get("data"),
            lambda r: str(required(r, "symbol")),
            lambda r: "BUY" if int_field(r, "side") == 1 else "SELL", "qty", "limitPrice",
        )  # fmt: skip
        available = self.exchange.available_funds(session.client_id)
        return ok(data={"margin_avail": money(available), "margin_total": money(need.total),
                        "margin_new_order": money(need.total)})  # fmt: skip

    def funds(self, _r: Request, session: Session | None, _a: dict[str, str]) -> Response:
        """``GET /funds``: ``fund_limit`` rows (id 10 is the available balance)."""
        assert session is not None
        funds = self.exchange.open_account(session.client_id).funds
        net = self.exchange.available_funds(session.client_id)
        rows = [(1, "Total Balance", funds), (2, "Utilized Amount", funds - net),
                (10, "Available Balance", net)]  # fmt: skip
        return ok(fund_limit=[{"id": i, "title": t, "equityAmount": money(v),
                               "commodityAmount": 0} for i, t, v in rows])  # fmt: skip

    def place(self, request: Request, session: Session | None, _a: dict[str, str]) -> Response:
        assert session is not None
        order_request = self._order_request(json_body(request))
        order = self.exchange.place(session.client_id, order_request)
        return ok(
            1101,
            f"Order Submitted Successfully. Your Order Ref. No.{order.order_id}",
            id=order.order_id,
        )

    def modify(self, request: Request, session: Session | None, _a: dict[str, str]) -> Response:
        assert session is not None
        body = json_body(request)
        kind = ORDER_TYPES.get(int_field(body, "type")) if body.get("type") else None
        order = self.exchange.modify(
            session.client_id,
            required(body, "id"),
            quantity=int_field(body, "qty") if body.get("qty") else None,
            price=decimal_field(body, "limitPrice") if body.get("limitPrice") else None,
            trigger_price=(decimal_field(body, "stopPrice") if body.get("stopPrice") else None),
            order_type=kind,
        )
        return ok(1102, "Successfully modified order", id=order.order_id)

    def cancel(self, request: Request, session: Session | None, _a: dict[str, str]) -> Response:
        assert session is not None
        order = self.exchange.cancel(session.client_id, required(json_body(request), "id"))
        return ok(1103, "Successfully cancelled order", id=order.order_id)

    def order_json(self, order: Order) -> dict[str, Any]:
        """An orderBook row."""
        instrument = self.exchange.resolve_key(order.key)
        return order_row(order, instrument, self.exchange.price(order.key))

    def order_book(self, request: Request, session: Session | None, _a: dict) -> Response:
        assert session is not None
        wanted = request.args.get("id")
        orders = self.exchange.orders(session.client_id)
        rows = [self.order_json(o) for o in orders if not wanted or o.order_id == wanted]
        return ok(orderBook=rows)

    def _trade_json(self, trade: Trade) -> dict[str, Any]:
        order = self.exchange.order(trade.account, trade.order_id)
        return trade_row(trade, order, self.exchange.resolve_key(trade.key))

    def trade_book(self, _r: Request, session: Session | None, _a: dict) -> Response:
        assert session is not None
        return ok(tradeBook=[self._trade_json(t) for t in self.exchange.trades(session.client_id)])

    def positions(self, _r: Request, session: Session | None, _a: dict) -> Response:
        assert session is not None
        rows = [
            position_row(p, self.exchange.resolve_key(p.key))
            for p in self.exchange.positions(session.client_id)
        ]
        total = sum((p.pnl for p in self.exchange.positions(session.client_id)), Decimal(0))
        overall = {"count_total": len(rows), "count_open": sum(1 for r in rows if r["netQty"])}
        return ok(netPositions=rows, overall={**overall, "pl_total": money(total)})

    def quotes(self, request: Request, session: Session | None, _a: dict) -> Response:
        """``d`` rows named ``n`` with ``v.lp``; unknown symbols answer ``s: error`` in their row."""
        assert session is not None
        rows = []
        for name in filter(None, (s.strip() for s in request.args.get("symbols", "").split(","))):
            try:
                price = self.exchange.ltp(INDEX_SYMBOLS.get(name, name))
            except OrderRefused:
                rows.append({"n": name, "s": "error", "v": {"errmsg": "invalid symbol"}})
                continue
            rows.append({"n": name, "s": "ok", "v": {"symbol": name, "lp": money(price)}})
        if not rows:
            return self.error("input", "Please provide symbols", 400)
        return ok(d=rows)

    # ------------------------------------------------------------- master
    def master(self, request: Request, _s: Session | None, _a: dict[str, str]) -> Response:
        exchange = "NFO" if request.path.endswith("NSE_FO.csv") else "BFO"
        updated = self.exchange.now().date().isoformat()
        text = master_csv(self.exchange.instruments(), exchange, updated)
        return Response(text, mimetype="text/csv")
