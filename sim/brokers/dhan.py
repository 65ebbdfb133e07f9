"""Dhan v2 dialect (what ``dhanhq`` 2.x sends and parses).

Login (consent flow, on ``login_url_base`` standing in for auth.dhan.co): ``POST
/app/generate-consent?client_id=..`` with ``app_id`` / ``app_secret`` headers -> ``consentAppId``;
the browser opens ``/login/consentApp-login?consentAppId=..`` and is redirected with ``tokenId``;
``GET /app/consumeApp-consent?tokenId=..`` with the same headers -> ``accessToken`` valid 24 h.
API calls (``base_url`` + ``/v2``) carry ``access-token`` and ``client-id`` headers; errors are
``{"errorType", "errorCode": "DH-9xx", "errorMessage"}``. Dhan applies market protection itself,
so MARKET orders are accepted as protected (the ``market_refused`` fault still refuses one).
Dhan has no trigger-pending status: a stop order waiting for its trigger is ``PENDING`` like a
resting limit (``orderType`` STOP_LOSS and nothing filled tell them apart, as far as they can be).
"""

from __future__ import annotations

import csv
import hmac
import io
import json
import secrets
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from werkzeug.wrappers import Request, Response

from chalicelib.domain.instrument import Broker
from chalicelib.domain.symbols import dhan_exchange_segment, format_strike
from sim.brokers.base import FakeBrokerServer, Route, Session, json_response, redirect, route
from sim.brokers.common import (
    BadInput,
    basket_requirement,
    decimal_field,
    int_field,
    ist_text,
    money,
    required,
)
from sim.errors import OrderRefused, UnknownOrder
from sim.orderbook import Order, OrderRequest, OrderType, Status, broker_reason

ORDER_TYPES = {
    "MARKET": OrderType.MARKET,
    "LIMIT": OrderType.LIMIT,
    "STOP_LOSS": OrderType.SL,
    "STOP_LOSS_MARKET": OrderType.SL_M,
}
ORDER_TYPE_NAMES = {v: k for k, v in ORDER_TYPES.items()}
ERRORS = {
    "token": ("Invalid_Authentication", "DH-901"),
    "ip": ("Invalid_Access", "DH-902"),
    "rate": ("Rate_Limit", "DH-904"),
    "input": ("Input_Exception", "DH-905"),
    "order": ("Order_Error", "DH-906"),
    "server": ("Internal_Server_Error", "DH-908"),
    "not_found": ("Other_Error", "DH-910"),
}
SEGMENTS = {"NSE_FNO", "BSE_FNO"}
MASTER_COLUMNS = (
    "SEM_EXM_EXCH_ID", "SEM_SEGMENT", "SEM_SMST_SECURITY_ID", "SEM_INSTRUMENT_NAME",
    "SEM_EXPIRY_CODE", "SEM_TRADING_SYMBOL", "SEM_LOT_UNITS", "SEM_CUSTOM_SYMBOL",
    "SEM_EXPIRY_DATE", "SEM_STRIKE_PRICE", "SEM_OPTION_TYPE", "SEM_TICK_SIZE", "SEM_EXPIRY_FLAG",
)  # fmt: skip
TOKEN_LIFETIME = timedelta(hours=24)


def status_of(order: Order) -> str:
    """Dhan's orderStatus."""
    if order.status is Status.COMPLETE:
        return "TRADED"
    if order.status in (Status.OPEN, Status.TRIGGER_PENDING):
        return "PART_TRADED" if order.filled_quantity else "PENDING"
    return str(order.status)


class DhanServer(FakeBrokerServer):
    """Fake Dhan v2 (API under ``/v2``; consent login under ``/app`` and ``/login``)."""

    dialect = "dhan"
    token_status = 401
    token_message = "Client ID or user generated access token is invalid or expired."

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._consents: dict[str, str] = {}
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

    def error(self, kind: str, message: str, status: int) -> Response:
        error_type, code = ERRORS.get(kind, ERRORS["not_found"])
        return json_response(
            {"errorType": error_type, "errorCode": code, "errorMessage": message}, status
        )

    def ip_error(self, request: Request) -> Response:
        return self.error(
            "ip", f"Static IP {request.remote_addr} is not whitelisted for orders", 403
        )

    # ------------------------------------------------------------- login
    def _app_from_headers(self, request: Request) -> Any:
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
        self._consents[consent] = app.api_key
        return json_response(
            {"consentAppId": consent, "consentAppStatus": "GENERATED", "status": "success"}
        )

    def login_page(self, request: Request, _s: Session | None, _a: dict) -> Response:
        api_key = self._consents.pop(request.args.get("consentAppId", ""), None)
        if api_key is None:
            return self.error("token", "Invalid consentAppId", 400)
        return redirect(self.apps[api_key].redirect_url, {"tokenId": self.issue_code(api_key)})

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
    def _body(self, request: Request) -> dict[str, Any]:
        try:
            body = json.loads(request.get_data(as_text=True) or "{}")
        except json.JSONDecodeError:
            raise BadInput("Invalid JSON body") from None
        if not isinstance(body, dict):
            raise BadInput("Invalid JSON body")
        return body

    def margin(self, request: Request, session: Session | None, _a: dict) -> Response:
        """``POST /v2/margincalculator/multi``: the basket's margins with the hedge benefit."""
        assert session is not None
        try:
            need = basket_requirement(
                self.exchange, self._body(request).get("scripList"),
                lambda r: str(required(r, "securityId")),
                lambda r: str(required(r, "transactionType")), "quantity", "price",
            )  # fmt: skip
        except BadInput as exc:
            return self.error("input", str(exc), 400)
        except OrderRefused as exc:
            return self.error("input", exc.message, 400)
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
        try:
            body = self._body(request)
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
        except BadInput as exc:
            return self.error("input", str(exc), 400)
        except OrderRefused as exc:
            return self.error("order", exc.message, 400)
        return json_response({"orderId": order.order_id, "orderStatus": "TRANSIT"})

    def modify(self, request: Request, session: Session | None, args: dict) -> Response:
        assert session is not None
        try:
            body = self._body(request)
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
        except UnknownOrder:
            return self.error("input", "Invalid orderId", 400)
        except BadInput as exc:
            return self.error("input", str(exc), 400)
        except OrderRefused as exc:
            return self.error("order", exc.message, 400)
        return json_response({"orderId": order.order_id, "orderStatus": status_of(order)})

    def cancel(self, _r: Request, session: Session | None, args: dict) -> Response:
        assert session is not None
        try:
            order = self.exchange.cancel(session.client_id, args["order_id"])
        except UnknownOrder:
            return self.error("input", "Invalid orderId", 400)
        except OrderRefused as exc:
            return self.error("order", exc.message, 400)
        return json_response({"orderId": order.order_id, "orderStatus": "CANCELLED"})

    def order_json(self, order: Order) -> dict[str, Any]:
        """An order as Dhan lists it."""
        instrument = self.exchange.resolve_key(order.key)
        ref = instrument.refs[Broker.DHAN]
        return {
            "dhanClientId": order.account,
            "orderId": order.order_id,
            "correlationId": order.tag,
            "orderStatus": status_of(order),
            "transactionType": order.side,
            "exchangeSegment": dhan_exchange_segment(instrument.exchange),
            "productType": order.product,
            "orderType": ORDER_TYPE_NAMES[order.order_type],
            "validity": order.validity,
            "tradingSymbol": ref.symbol,
            "securityId": ref.token,
            "quantity": order.quantity,
            "disclosedQuantity": 0,
            "price": money(order.price),
            "triggerPrice": money(order.trigger_price),
            "afterMarketOrder": False,
            "boProfitValue": 0,
            "boStopLossValue": 0,
            "legName": "NA",
            "createTime": ist_text(order.placed_at),
            "updateTime": ist_text(order.updated_at),
            "exchangeTime": ist_text(order.updated_at),
            "drvExpiryDate": order.key.expiry.isoformat(),
            "drvOptionType": "CALL" if order.key.option_type == "CE" else "PUT",
            "drvStrikePrice": money(order.key.strike),
            "omsErrorCode": order.reject_code or "",
            "omsErrorDescription": broker_reason(order.status, order.status_message),
            "algoId": "",
            "remainingQuantity": order.quantity - order.filled_quantity,
            "averageTradedPrice": money(order.average_price),
            "filledQty": order.filled_quantity,
        }

    def orders(self, _r: Request, session: Session | None, _a: dict) -> Response:
        assert session is not None
        return json_response([self.order_json(o) for o in self.exchange.orders(session.client_id)])

    def one_order(self, _r: Request, session: Session | None, args: dict) -> Response:
        assert session is not None
        try:
            return json_response(
                self.order_json(self.exchange.order(session.client_id, args["order_id"]))
            )
        except UnknownOrder:
            return self.error("input", "Invalid orderId", 400)

    def by_correlation(self, _r: Request, session: Session | None, args: dict) -> Response:
        assert session is not None
        found = self.exchange.find_by_tag(session.client_id, args["correlation_id"])
        if not found:
            return self.error("input", "No order found for correlationId", 404)
        return json_response([self.order_json(o) for o in found])

    def trades(self, _r: Request, session: Session | None, args: dict) -> Response:
        assert session is not None
        rows = []
        for t in self.exchange.trades(session.client_id):
            if args.get("order_id") and t.order_id != args["order_id"]:
                continue
            ref = self.exchange.resolve_key(t.key).refs[Broker.DHAN]
            rows.append(
                {
                    "dhanClientId": t.account,
                    "orderId": t.order_id,
                    "exchangeOrderId": f"1{t.order_id}",
                    "exchangeTradeId": t.trade_id,
                    "transactionType": t.side,
                    "exchangeSegment": dhan_exchange_segment(t.key.underlying.exchange),
                    "productType": t.product,
                    "orderType": "LIMIT",
                    "tradingSymbol": ref.symbol,
                    "securityId": ref.token,
                    "tradedQuantity": t.quantity,
                    "tradedPrice": money(t.price),
                    "createTime": ist_text(t.at),
                    "updateTime": ist_text(t.at),
                    "exchangeTime": ist_text(t.at),
                }
            )
        return json_response(rows)

    def positions(self, _r: Request, session: Session | None, _a: dict) -> Response:
        assert session is not None
        rows = []
        for p in self.exchange.positions(session.client_id):
            ref = self.exchange.resolve_key(p.key).refs[Broker.DHAN]
            kind = "LONG" if p.quantity > 0 else "SHORT" if p.quantity < 0 else "CLOSED"
            rows.append(
                {
                    "dhanClientId": p.account,
                    "tradingSymbol": ref.symbol,
                    "securityId": ref.token,
                    "positionType": kind,
                    "exchangeSegment": dhan_exchange_segment(p.key.underlying.exchange),
                    "productType": p.product,
                    "buyAvg": money(p.buy_value / p.buy_quantity) if p.buy_quantity else 0,
                    "buyQty": p.buy_quantity,
                    "costPrice": money(p.average_price),
                    "sellAvg": money(p.sell_value / p.sell_quantity) if p.sell_quantity else 0,
                    "sellQty": p.sell_quantity,
                    "netQty": p.quantity,
                    "realizedProfit": money(p.realised),
                    "unrealizedProfit": money(p.unrealised),
                    "multiplier": 1,
                    "drvExpiryDate": p.key.expiry.isoformat(),
                    "drvOptionType": "CALL" if p.key.option_type == "CE" else "PUT",
                    "drvStrikePrice": money(p.key.strike),
                }
            )
        return json_response(rows)

    def ltp(self, request: Request, session: Session | None, _a: dict) -> Response:
        assert session is not None
        try:
            body = self._body(request)
        except BadInput as exc:
            return self.error("input", str(exc), 400)
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
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(MASTER_COLUMNS)
        for i in self.exchange.instruments():
            ref = i.refs[Broker.DHAN]
            exch = "NSE" if i.exchange == "NFO" else "BSE"
            writer.writerow(
                [
                    exch, "D", ref.token, "OPTIDX", 0, ref.symbol, f"{i.lot_size}.0",
                    f"{i.underlying} {i.expiry:%d %b} {format_strike(i.strike)} {i.option_type}",
                    f"{i.expiry.isoformat()} 14:30:00", f"{i.strike:.5f}", str(i.option_type),
                    "5.0000", "W",
                ]
            )  # fmt: skip
        return Response(out.getvalue(), mimetype="text/csv")
