"""Dhan v2 dialect (what ``dhanhq`` 2.x sends and parses).

Login (consent flow, on ``login_url_base`` standing in for auth.dhan.co): ``POST
/app/generate-consent?client_id=..`` with ``app_id`` / ``app_secret`` headers -> ``consentAppId``;
the browser opens ``/login/consentApp-login?consentAppId=..`` and is redirected with ``tokenId``;
``GET /app/consumeApp-consent?tokenId=..`` with the same headers -> ``accessToken`` valid 24 h.
API calls (``base_url`` + ``/v2``) carry ``access-token`` and ``client-id`` headers; errors are
``{"errorType", "errorCode": "DH-9xx", "errorMessage"}``. Dhan applies market protection itself,
so MARKET orders are accepted as protected (the ``market_refused`` fault still refuses one).
The books' wording is in ``sim.brokers.dhan_wire``.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
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
from sim.brokers.dhan_wire import (
    ORDER_TYPES,
    error_body,
    master_csv,
    order_row,
    position_row,
    status_of,
    trade_row,
)
from sim.brokers.refusals import Refusals, refusals
from sim.brokers.sessions import App, Session
from sim.brokers.wsgi import Route, json_response, redirect, route
from sim.errors import OrderRefused
from sim.orderbook import Order, OrderRequest, OrderType

SEGMENTS = {"NSE_FNO", "BSE_FNO"}
TOKEN_LIFETIME = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Consent:
    """A consent generated for an app, until the browser's login page takes it."""

    api_key: str
    client_id: str


class DhanServer(FakeBrokerServer):
    """Fake Dhan v2 (API under ``/v2``; consent login under ``/app`` and ``/login``)."""

    dialect = "dhan"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._consents: dict[str, Consent] = {}
        super().__init__(*args, **kwargs)

    def routes(self) -> list[Route]:
        return [
            route("POST", "/app/generate-consent", self.generate_consent, "public"),
            route("GET", "/login/consentApp-login", self.login_page, "public"),
            route("GET", "/app/consumeApp-consent", self.consume_consent, "public"),
            route("GET", "/api-data/api-scrip-master.csv", self.master, "public"),
            route("GET", "/v2/profile", self.profile),
            route("POST", "/v2/orders", self.place, "order"),
            route("POST", "/v2/orders/slicing", self.place, "order"),
            route("PUT", "/v2/orders/{order_id}", self.modify, "order"),
            route("DELETE", "/v2/orders/{order_id}", self.cancel, "order"),
            route("GET", "/v2/orders", self.orders),
            route("GET", "/v2/orders/{order_id}", self.one_order),
            route("GET", "/v2/orders/external/{correlation_id}", self.by_correlation),
            route("GET", "/v2/trades", self.trades),
            route("GET", "/v2/trades/{order_id}", self.trades),
            route("GET", "/v2/positions", self.positions),
            route("POST", "/v2/margincalculator/multi", self.margin),
            route("GET", "/v2/fundlimit", self.fund_limit),
            route("POST", "/v2/marketfeed/ltp", self.ltp),
        ]

    def expiry_for(self, issued: datetime) -> datetime:
        return issued + TOKEN_LIFETIME

    def authenticate(self, request: Request) -> Session | None:
        session = self.session_for(request.headers.get("access-token", ""))
        client = request.headers.get("client-id")
        if session is None or (client and client != session.client_id):
            return None
        return session

    def declare_refusals(self) -> Refusals:
        return refusals(
            error_body,
            token=(401, "Client ID or user generated access token is invalid or expired."),
            ip="Static IP {ip} is not whitelisted for orders",
            unknown_order=("input", "Invalid orderId", 400),
        )

    # ------------------------------------------------------------- login
    def _app_from_headers(self, request: Request) -> App | None:
        app = self.apps.get(self.raw_header(request, "app_id"))
        secret = self.raw_header(request, "app_secret")
        if app is None or not hmac.compare_digest(app.api_secret, secret):
            return None
        return app

    def generate_consent(self, request: Request, _s: Session | None, _a: dict) -> Response:
        app = self._app_from_headers(request)
        if app is None or request.args.get("client_id", app.client_id) != app.client_id:
            return self.error("token", "Invalid app_id or app_secret", 401)
        consent = secrets.token_hex(8)
        self._consents[consent] = Consent(app.api_key, app.client_id)
        return json_response(
            {"consentAppId": consent, "consentAppStatus": "GENERATED", "status": "success"}
        )

    def login_page(self, request: Request, _s: Session | None, _a: dict) -> Response:
        consent = self._consents.pop(request.args.get("consentAppId", ""), None)
        if consent is None:
            return self.error("token", "Invalid consentAppId", 400)
        app = self.apps[consent.api_key]
        return redirect(app.redirect_url, {"tokenId": self.issue_code(consent.api_key)})

    def consume_consent(self, request: Request, _s: Session | None, _a: dict) -> Response:
        app = self._app_from_headers(request)
        if app is None:
            return self.error("token", "Invalid app_id or app_secret", 401)
        if self.redeem_code(request.args.get("tokenId", "")) is not app:
            return self.error("token", "Invalid or expired tokenId", 401)
        session = self.issue_session(app)
        return json_response(
            {
                "dhanClientId": app.client_id,
                "dhanClientName": f"Paper {app.client_id}",
                "dhanClientUcc": app.client_id,
                "givenPowerOfAttorney": True,
                "accessToken": session.token,
                "expiryTime": session.expires_at.isoformat(timespec="seconds"),
            }
        )

    def profile(self, _r: Request, session: Session | None, _a: dict) -> Response:
        assert session is not None
        return json_response(
            {
                "dhanClientId": session.client_id,
                "tokenValidity": session.expires_at.strftime("%d/%m/%Y %H:%M"),
                "activeSegment": "Equity, Derivative",
            }
        )

    # ------------------------------------------------------------- orders
    def margin(self, request: Request, session: Session | None, _a: dict) -> Response:
        """``POST /v2/margincalculator/multi``: the basket's margins with the hedge benefit."""
        assert session is not None
        need = basket_requirement(
            self.exchange, json_body(request).get("scripList"),
            lambda r: str(required(r, "securityId")),
            lambda r: str(required(r, "transactionType")), "quantity", "price",
        )  # fmt: skip
        return json_response({"totalMargin": money(need.total), "spanMargin": money(need.span),
                              "exposureMargin": 0, "hedgeBenefit": money(need.benefit),
                              "equityMargin": 0, "foMargin": money(need.total)})  # fmt: skip

    def fund_limit(self, _r: Request, session: Session | None, _a: dict) -> Response:
        """``GET /v2/fundlimit`` (``availabelBalance`` is Dhan's own spelling)."""
        assert session is not None
        funds = self.exchange.open_account(session.client_id).funds
        net = self.exchange.available_funds(session.client_id)
        return json_response({"dhanClientId": session.client_id, "availabelBalance": money(net),
                              "sodLimit": money(funds), "collateralAmount": 0,
                              "receiveableAmount": 0, "utilizedAmount": money(funds - net),
                              "blockedPayoutAmount": 0, "withdrawableBalance": money(net)})  # fmt: skip

    def place(self, request: Request, session: Session | None, _a: dict) -> Response:
        assert session is not None
        body = json_body(request)
        if body.get("exchangeSegment") not in SEGMENTS:
            raise BadInput("Invalid exchangeSegment")
        order_type = ORDER_TYPES.get(str(body.get("orderType")))
        if order_type is None:
            raise BadInput("Invalid orderType")
        market = order_type in (OrderType.MARKET, OrderType.SL_M)
        order = self.exchange.place(
            session.client_id,
            OrderRequest(
                instrument=required(body, "securityId"),
                side=required(body, "transactionType"),
                quantity=int_field(body, "quantity"),
                order_type=order_type,
                price=Decimal(0) if market else decimal_field(body, "price"),
                trigger_price=decimal_field(body, "triggerPrice"),
                product=required(body, "productType"),
                validity=body.get("validity", "DAY"),
                tag=str(body.get("correlationId") or ""),
                market_protection=Decimal(-1) if market else None,
            ),
        )
        return json_response({"orderId": order.order_id, "orderStatus": "TRANSIT"})

    def modify(self, request: Request, session: Session | None, args: dict) -> Response:
        assert session is not None
        body = json_body(request)
        order_type = None
        if body.get("orderType"):
            order_type = ORDER_TYPES.get(str(body["orderType"]))
            if order_type is None:
                raise BadInput("Invalid orderType")
        order = self.exchange.modify(
            session.client_id,
            args["order_id"],
            order_type=order_type,
            quantity=int_field(body, "quantity") if body.get("quantity") else None,
            price=decimal_field(body, "price") if body.get("price") else None,
            trigger_price=(
                decimal_field(body, "triggerPrice") if body.get("triggerPrice") else None
            ),
        )
        return json_response({"orderId": order.order_id, "orderStatus": status_of(order)})

    def cancel(self, _r: Request, session: Session | None, args: dict) -> Response:
        assert session is not None
        order = self.exchange.cancel(session.client_id, args["order_id"])
        return json_response({"orderId": order.order_id, "orderStatus": "CANCELLED"})

    def order_json(self, order: Order) -> dict[str, Any]:
        """An order as Dhan lists it."""
        return order_row(order, self.exchange.resolve_key(order.key))

    def orders(self, _r: Request, session: Session | None, _a: dict) -> Response:
        assert session is not None
        return json_response([self.order_json(o) for o in self.exchange.orders(session.client_id)])

    def one_order(self, _r: Request, session: Session | None, args: dict) -> Response:
        assert session is not None
        return json_response(
            self.order_json(self.exchange.order(session.client_id, args["order_id"]))
        )

    def by_correlation(self, _r: Request, session: Session | None, args: dict) -> Response:
        assert session is not None
        found = self.exchange.find_by_tag(session.client_id, args["correlation_id"])
        if not found:
            return self.error("input", "No order found for correlationId", 404)
        return json_response([self.order_json(o) for o in found])

    def trades(self, _r: Request, session: Session | None, args: dict) -> Response:
        assert session is not None
        wanted = args.get("order_id")
        return json_response(
            [
                trade_row(t, self.exchange.resolve_key(t.key))
                for t in self.exchange.trades(session.client_id)
                if not wanted or t.order_id == wanted
            ]
        )

    def positions(self, _r: Request, session: Session | None, _a: dict) -> Response:
        assert session is not None
        positions = self.exchange.positions(session.client_id)
        return json_response([position_row(p, self.exchange.resolve_key(p.key)) for p in positions])

    def ltp(self, request: Request, session: Session | None, _a: dict) -> Response:
        assert session is not None
        body = json_body(request)
        data: dict[str, dict[str, Any]] = {}
        for segment, ids in body.items():
            for security_id in ids:
                try:
                    price = self.exchange.ltp(str(security_id))
                except OrderRefused:
                    continue
                data.setdefault(segment, {})[str(security_id)] = {"last_price": money(price)}
        return json_response({"data": data, "status": "success"})

    def master(self, _r: Request, _s: Session | None, _a: dict) -> Response:
        return Response(master_csv(self.exchange.instruments()), mimetype="text/csv")
