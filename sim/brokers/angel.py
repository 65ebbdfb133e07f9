"""Angel One SmartAPI dialect (what ``smartapi-python`` 1.5 sends and parses).

Login: ``POST /rest/auth/angelbroking/user/v1/loginByPassword`` JSON ``{clientcode, password
(MPIN), totp}`` with ``X-PrivateKey: <api_key>``; the TOTP is checked (RFC 6238, 30 s, +-1 step)
against the app's secret as the base32 TOTP seed, on the exchange clock. The publisher login
``GET /publisher-login?api_key=..`` redirects with ``auth_token``. Tokens expire 05:00 IST.
Calls send ``Authorization: Bearer <jwt>``; replies are ``{"status": true|false, "message",
"errorcode", "data"}``. Angel applies market protection to MARKET orders itself.

Varieties: a stop order (``STOPLOSS_LIMIT`` / ``STOPLOSS_MARKET``) is placed with variety
``STOPLOSS`` and a plain one with ``NORMAL`` (``AMO`` takes either); ``modifyOrder`` and
``cancelOrder`` must name the order's variety. LTPs: ``order/v1/getLtpData`` (one token) and
``market/v1/quote/`` (``{"mode": "LTP", "exchangeTokens": {"NFO": [...]}}``, the batch call).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import struct
from datetime import datetime
from decimal import Decimal
from typing import Any

from werkzeug.wrappers import Request, Response

from chalicelib.domain.instrument import Broker
from sim.brokers.angel_wire import (
    ORDER_TYPE_NAMES,
    ORDER_TYPES,
    envelope,
    error_body,
    master_row,
    order_row,
    position_row,
    trade_row,
)
from sim.brokers.base import FakeBrokerServer
from sim.brokers.common import (
    BadInput,
    basket_requirement,
    decimal_field,
    int_field,
    money,
    required,
)
from sim.brokers.refusals import Refusals, refusals
from sim.brokers.sessions import Session, next_at
from sim.brokers.wsgi import Route, json_response, redirect, route
from sim.errors import UnknownOrder
from sim.orderbook import STOP_TYPES, Order, OrderRequest, OrderType

P = "/rest/secure/angelbroking"
VARIETIES = frozenset({"NORMAL", "STOPLOSS", "AMO", "ROBO"})
QUOTE_MODES = frozenset({"LTP", "OHLC", "FULL"})


def totp(secret: str, moment: datetime, step_offset: int = 0) -> str:
    """RFC 6238 six-digit TOTP of a base32 ``secret`` at ``moment``."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    counter = int(moment.timestamp()) // 30 + step_offset
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = (struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{code:06d}"


def _variety_for(variety: str, order_type: OrderType) -> str:
    """The placement's variety, checked against its order type (``BadInput`` if they clash)."""
    if variety not in VARIETIES:
        raise BadInput(f"Invalid variety {variety or '(missing)'}")
    stop = order_type in STOP_TYPES
    if stop and variety not in ("STOPLOSS", "AMO"):
        raise BadInput(f"Invalid variety {variety} for ordertype {ORDER_TYPE_NAMES[order_type]}")
    if variety == "STOPLOSS" and not stop:
        raise BadInput(f"Invalid ordertype {ORDER_TYPE_NAMES[order_type]} for variety STOPLOSS")
    return variety


class AngelServer(FakeBrokerServer):
    """Fake Angel One SmartAPI."""

    dialect = "angel"

    def expiry_for(self, issued: datetime) -> datetime:
        return next_at(issued, 5, 0)

    def routes(self) -> list[Route]:
        return [
            route("GET", "/publisher-login", self.publisher_login, "public"),
            route("POST", "/rest/auth/angelbroking/user/v1/loginByPassword", self.login, "public"),
            route("GET", f"{P}/user/v1/getProfile", self.profile),
            route("POST", f"{P}/order/v1/placeOrder", self.place, "order"),
            route("POST", f"{P}/order/v1/modifyOrder", self.modify, "order"),
            route("POST", f"{P}/order/v1/cancelOrder", self.cancel, "order"),
            route("GET", f"{P}/order/v1/getOrderBook", self.order_book),
            route("GET", f"{P}/order/v1/details/{{unique_id}}", self.details),
            route("GET", f"{P}/order/v1/getTradeBook", self.trade_book),
            route("GET", f"{P}/order/v1/getPosition", self.positions),
            route("POST", f"{P}/margin/v1/batch", self.margin_batch),
            route("GET", f"{P}/user/v1/getRMS", self.rms),
            route("POST", f"{P}/order/v1/getLtpData", self.ltp),
            route("POST", f"{P}/market/v1/quote/", self.market_quote),
            route("POST", f"{P}/market/v1/quote", self.market_quote),
            route("GET", "/OpenAPI_File/files/OpenAPIScripMaster.json", self.master, "public"),
        ]

    def authenticate(self, request: Request) -> Session | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return self.session_for(token) if scheme == "Bearer" else None

    def declare_refusals(self) -> Refusals:
        return refusals(
            error_body,
            token=(401, "Invalid Token"),
            ip="Request from IP {ip} is not whitelisted",
            unknown_order=("input", "Invalid orderid", 400),
        )

    # ------------------------------------------------------------- login
    def _tokens(self, session: Session) -> dict[str, str]:
        return {
            "jwtToken": session.token,
            "refreshToken": f"r{session.token}",
            "feedToken": f"f{session.token[:12]}",
        }

    def publisher_login(self, request: Request, _s: Session | None, _a: dict) -> Response:
        app = self.apps.get(request.args.get("api_key", ""))
        if app is None:
            return self.error("input", "Invalid API key", 400)
        tokens = self._tokens(self.issue_session(app))
        return redirect(
            app.redirect_url,
            {
                "auth_token": tokens["jwtToken"],
                "feed_token": tokens["feedToken"],
                "refresh_token": tokens["refreshToken"],
            },
        )

    def login(self, request: Request, _s: Session | None, _a: dict) -> Response:
        app = self.apps.get(request.headers.get("X-PrivateKey", ""))
        if app is None:
            return self.error("token", "Invalid API Key", 401)
        body = json.loads(request.get_data(as_text=True) or "{}")
        if body.get("clientcode") != app.client_id:
            return self.error("input", "Invalid clientcode", 400)
        password = str(body.get("password", ""))
        if not (password.isdigit() and 4 <= len(password) <= 6):
            return self.error("input", "Invalid MPIN", 400)
        now = self.exchange.now()
        if str(body.get("totp")) not in {totp(app.api_secret, now, d) for d in (-1, 0, 1)}:
            return self.error("input", "Invalid totp", 400)
        return envelope(self._tokens(self.issue_session(app)))

    def profile(self, _r: Request, session: Session | None, _a: dict) -> Response:
        assert session is not None
        return envelope(
            {
                "clientcode": session.client_id,
                "name": f"Paper {session.client_id}",
                "exchanges": ["NSE", "BSE", "NFO", "BFO"],
                "products": ["DELIVERY", "INTRADAY", "MARGIN", "CARRYFORWARD"],
            }
        )

    # ------------------------------------------------------------- orders
    def _body(self, request: Request) -> dict[str, Any]:
        try:
            body = json.loads(request.get_data(as_text=True) or "{}")
        except json.JSONDecodeError:
            raise BadInput("Invalid JSON") from None
        return body if isinstance(body, dict) else {}

    def margin_batch(self, request: Request, session: Session | None, _a: dict) -> Response:
        """``margin/v1/batch``: ``totalMarginRequired`` and its components."""
        assert session is not None
        need = basket_requirement(
            self.exchange, self._body(request).get("positions"),
            lambda r: str(required(r, "token")), lambda r: str(required(r, "tradeType")),
            "qty", "price",
        )  # fmt: skip
        components = {"netPremium": money(need.premium), "spanMargin": money(need.span),
                      "marginBenefit": money(need.benefit), "deliveryMargin": 0,
                      "nonNFOMargin": 0, "totOptionsPremium": money(need.premium)}  # fmt: skip
        return envelope({"totalMarginRequired": money(need.total),
                         "marginComponents": components})  # fmt: skip

    def rms(self, _r: Request, session: Session | None, _a: dict) -> Response:
        """``getRMS``: every figure as text, as Angel sends them."""
        assert session is not None
        funds = self.exchange.open_account(session.client_id).funds
        net = self.exchange.available_funds(session.client_id)
        return envelope({"net": f"{net:.4f}", "availablecash": f"{funds:.4f}",
                         "availableintradaypayin": "0.0000", "availablelimitmargin": "0.0000",
                         "collateral": "0.0000", "utiliseddebits": f"{funds - net:.4f}"})  # fmt: skip

    def place(self, request: Request, session: Session | None, _a: dict) -> Response:
        assert session is not None
        body = self._body(request)
        token = required(body, "symboltoken")
        instrument = self.exchange.resolve(token)
        if body.get("tradingsymbol") != instrument.refs[Broker.ANGEL].symbol:
            raise BadInput("Invalid tradingsymbol for symboltoken")
        order_type = ORDER_TYPES.get(str(body.get("ordertype")))
        if order_type is None:
            raise BadInput("Invalid ordertype")
        variety = _variety_for(str(body.get("variety") or ""), order_type)
        market = order_type in (OrderType.MARKET, OrderType.SL_M)
        tag = str(body.get("ordertag") or "")
        if len(tag) > 20:
            raise BadInput("ordertag too long")
        order = self.exchange.place(
            session.client_id,
            OrderRequest(
                instrument=token,
                side=required(body, "transactiontype"),
                quantity=int_field(body, "quantity"),
                order_type=order_type,
                price=Decimal(0) if market else decimal_field(body, "price"),
                trigger_price=decimal_field(body, "triggerprice"),
                product=required(body, "producttype"),
                validity=body.get("duration", "DAY"),
                tag=tag,
                market_protection=Decimal(-1) if market else None,
                variety=variety,
            ),
        )
        return envelope(
            {
                "script": body["tradingsymbol"],
                "orderid": order.order_id,
                "uniqueorderid": f"u{order.order_id}",
            }
        )

    def _named_order(self, body: dict[str, Any], session: Session) -> Order:
        """The order ``orderid`` names, checked against the ``variety`` the request gives."""
        order = self.exchange.order(session.client_id, required(body, "orderid"))
        variety = required(body, "variety")
        if variety != order.variety:
            raise BadInput(f"Invalid variety {variety} for an order of variety {order.variety}")
        return order

    def modify(self, request: Request, session: Session | None, _a: dict) -> Response:
        assert session is not None
        body = self._body(request)
        order = self._named_order(body, session)
        order_type = None
        if body.get("ordertype"):
            order_type = ORDER_TYPES.get(str(body["ordertype"]))
            if order_type is None:
                raise BadInput("Invalid ordertype")
        order = self.exchange.modify(
            session.client_id,
            order.order_id,
            quantity=int_field(body, "quantity") if body.get("quantity") else None,
            price=decimal_field(body, "price") if body.get("price") else None,
            trigger_price=(
                decimal_field(body, "triggerprice") if body.get("triggerprice") else None
            ),
            order_type=order_type,
        )
        return envelope({"orderid": order.order_id, "uniqueorderid": f"u{order.order_id}"})

    def cancel(self, request: Request, session: Session | None, _a: dict) -> Response:
        assert session is not None
        order = self._named_order(self._body(request), session)
        order = self.exchange.cancel(session.client_id, order.order_id)
        return envelope({"orderid": order.order_id, "uniqueorderid": f"u{order.order_id}"})

    def order_json(self, order: Order) -> dict[str, Any]:
        """An order as Angel lists it."""
        return order_row(order, self.exchange.resolve_key(order.key))

    def order_book(self, _r: Request, session: Session | None, _a: dict) -> Response:
        assert session is not None
        return envelope([self.order_json(o) for o in self.exchange.orders(session.client_id)])

    def details(self, _r: Request, session: Session | None, args: dict) -> Response:
        assert session is not None
        try:
            order = self.exchange.order(session.client_id, args["unique_id"].removeprefix("u"))
        except UnknownOrder:
            return self.error("input", "Invalid uniqueorderid", 400)
        return envelope(self.order_json(order))

    def trade_book(self, _r: Request, session: Session | None, _a: dict) -> Response:
        assert session is not None
        trades = self.exchange.trades(session.client_id)
        return envelope([trade_row(t, self.exchange.resolve_key(t.key)) for t in trades])

    def positions(self, _r: Request, session: Session | None, _a: dict) -> Response:
        assert session is not None
        positions = self.exchange.positions(session.client_id)
        return envelope([position_row(p, self.exchange.resolve_key(p.key)) for p in positions])

    def ltp(self, request: Request, session: Session | None, _a: dict) -> Response:
        assert session is not None
        body = self._body(request)
        price = self.exchange.ltp(str(body.get("symboltoken", "")))
        return envelope(
            {
                "exchange": body.get("exchange"),
                "tradingsymbol": body.get("tradingsymbol"),
                "symboltoken": body.get("symboltoken"),
                "ltp": money(price),
            }
        )

    def market_quote(self, request: Request, session: Session | None, _a: dict) -> Response:
        """Batch quotes: ``fetched`` rows (LTP mode fields) and ``unfetched`` tokens."""
        assert session is not None
        body = self._body(request)
        if str(body.get("mode")) not in QUOTE_MODES:
            raise BadInput("Invalid mode")
        wanted = body.get("exchangeTokens")
        if not isinstance(wanted, dict) or not wanted:
            raise BadInput("Invalid exchangeTokens")
        fetched, unfetched = [], []
        for exchange, tokens in wanted.items():
            for token in tokens if isinstance(tokens, list) else []:
                instrument = self.exchange.listing().find(str(token))
                if instrument is None or str(instrument.exchange) != exchange:
                    unfetched.append(
                        {
                            "exchange": exchange,
                            "symbolToken": str(token),
                            "message": "Invalid Token",
                            "errorCode": "AB4018",
                        }
                    )
                    continue
                fetched.append(
                    {
                        "exchange": exchange,
                        "tradingSymbol": instrument.refs[Broker.ANGEL].symbol,
                        "symbolToken": str(token),
                        "ltp": money(self.exchange.ltp(instrument.key)),
                    }
                )
        return envelope({"fetched": fetched, "unfetched": unfetched})

    def master(self, _r: Request, _s: Session | None, _a: dict) -> Response:
        return json_response([master_row(i) for i in self.exchange.instruments()])
