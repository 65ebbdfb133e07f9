"""Zerodha Kite Connect v3 dialect (what ``kiteconnect`` 5.x sends and parses).

Login: ``GET /connect/login?api_key=K&v=3`` redirects to the app's redirect URL with
``request_token`` and ``status=success``. ``POST /session/token`` checks
``checksum = sha256(api_key + request_token + api_secret)``; tokens expire at 06:00 IST next day.
Requests carry ``Authorization: token api_key:access_token`` and ``X-Kite-Version: 3``; replies
are ``{"status": "success", "data": ...}`` or ``{"status": "error", "error_type": ...,
"message": ...}``. Instruments are the CSV ``chalicelib.domain.masters.kite`` parses.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import re
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.wrappers import Request, Response

from chalicelib.domain.instrument import Broker
from chalicelib.domain.symbols import format_strike
from sim.brokers.base import (
    FakeBrokerServer,
    Route,
    Session,
    json_response,
    redirect,
    route,
)
from sim.brokers.common import BadInput, decimal_field, int_field, ist_text, money, required
from sim.errors import OrderRefused, UnknownOrder
from sim.orderbook import Order, OrderRequest, OrderType, Status, prices_at

STATUS = {
    Status.OPEN: "OPEN",
    Status.TRIGGER_PENDING: "TRIGGER PENDING",
    Status.COMPLETE: "COMPLETE",
    Status.CANCELLED: "CANCELLED",
    Status.REJECTED: "REJECTED",
}
ERROR_TYPES = {
    "token": "TokenException",
    "ip": "PermissionException",
    "rate": "NetworkException",
    "server": "NetworkException",
    "input": "InputException",
    "order": "OrderException",
    "not_found": "GeneralException",
}
VARIETIES = frozenset({"regular", "amo", "co", "iceberg", "auction"})
_TAG = re.compile(r"^[A-Za-z0-9]{1,20}$")
MASTER_COLUMNS = (
    "instrument_token", "exchange_token", "tradingsymbol", "name", "last_price", "expiry",
    "strike", "tick_size", "lot_size", "instrument_type", "segment", "exchange",
)  # fmt: skip


def ok(data: Any) -> Response:
    """Kite's success envelope."""
    return json_response({"status": "success", "data": data})


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

    def error(self, kind: str, message: str, status: int) -> Response:
        body = {
            "status": "error",
            "message": message,
            "data": None,
            "error_type": ERROR_TYPES.get(kind, "GeneralException"),
        }
        return json_response(body, status)

    def ip_error(self, request: Request) -> Response:
        return self.error(
            "ip",
            "Order placement is not allowed from this IP. Register your static IP in the Kite "
            f"Connect developer console. IP: {request.remote_addr}",
            403,
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
        try:
            order_request = self._order_request(request.form, args["variety"])
            order = self.exchange.place(session.client_id, order_request)
        except BadInput as exc:
            return self.error("input", str(exc), 400)
        except OrderRefused as exc:
            return self.error("input", exc.message, 400)
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
        try:
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
                order_type=OrderType(form["order_type"]) if form.get("order_type") else None,
            )
        except UnknownOrder:
            return self.error("input", "Invalid `order_id`.", 400)
        except (BadInput, ValueError) as exc:
            return self.error("input", str(exc), 400)
        except OrderRefused as exc:
            return self.error("input", exc.message, 400)
        return ok({"order_id": order.order_id})

    def cancel(self, _r: Request, session: Session | None, args: dict[str, str]) -> Response:
        assert session is not None
        if args["variety"] not in VARIETIES:
            return self.error("input", "Invalid `variety`.", 400)
        try:
            order = self.exchange.cancel(session.client_id, args["order_id"])
        except UnknownOrder:
            return self.error("input", "Invalid `order_id`.", 400)
        except OrderRefused as exc:
            return self.error("input", exc.message, 400)
        return ok({"order_id": order.order_id})

    def order_json(self, order: Order, state: dict[str, Any] | None = None) -> dict[str, Any]:
        """An order as Kite lists it (``state``: one history entry instead of the latest)."""
        instrument = self.exchange.resolve_key(order.key)
        ref = instrument.refs[Broker.KITE]
        status = Status(state["status"]) if state else order.status
        filled = state["filled_quantity"] if state else order.filled_quantity
        quantity = state["quantity"] if state else order.quantity
        pending = quantity - filled if status in (Status.OPEN, Status.TRIGGER_PENDING) else 0
        cancelled = quantity - filled if status in (Status.CANCELLED, Status.REJECTED) else 0
        message = (state["message"] if state else order.status_message) or None
        price, trigger = prices_at(order, state)
        stamp = ist_text(order.placed_at)
        return {
            "account_id": order.account,
            "placed_by": order.account,
            "order_id": order.order_id,
            "exchange_order_id": None if status is Status.REJECTED else f"1{order.order_id}",
            "parent_order_id": None,
            "status": STATUS[status],
            "status_message": message,
            "status_message_raw": message,
            "order_timestamp": ist_text(order.updated_at)
            if not state
            else state["at"][:19].replace("T", " "),
            "exchange_update_timestamp": stamp,
            "exchange_timestamp": stamp,
            "variety": order.variety,
            "modified": len(order.history) > 2,
            "exchange": str(order.key.underlying.exchange),
            "tradingsymbol": ref.symbol,
            "instrument_token": int(ref.token),
            "order_type": str(order.order_type),
            "transaction_type": order.side,
            "validity": order.validity,
            "validity_ttl": 0,
            "product": order.product,
            "quantity": quantity,
            "disclosed_quantity": 0,
            "price": money(price),
            "trigger_price": money(trigger),
            "average_price": money(
                order.average_price if not state else Decimal(state["average_price"])
            ),
            "filled_quantity": filled,
            "pending_quantity": pending,
            "cancelled_quantity": cancelled,
            "market_protection": money(order.market_protection or 0),
            "meta": {},
            "tag": order.tag or None,
            "tags": [order.tag] if order.tag else [],
            "guid": f"sim{order.order_id}",
        }

    def orders(self, _r: Request, session: Session | None, _a: dict[str, str]) -> Response:
        assert session is not None
        return ok([self.order_json(o) for o in self.exchange.orders(session.client_id)])

    def order_history(self, _r: Request, session: Session | None, args: dict[str, str]) -> Response:
        assert session is not None
        try:
            order = self.exchange.order(session.client_id, args["order_id"])
        except UnknownOrder:
            return self.error("input", "Invalid `order_id`.", 400)
        return ok([self.order_json(order, state) for state in order.history])

    def _trade_json(self, trade: Any) -> dict[str, Any]:
        instrument = self.exchange.resolve_key(trade.key)
        ref = instrument.refs[Broker.KITE]
        return {
            "trade_id": trade.trade_id,
            "order_id": trade.order_id,
            "exchange": str(trade.key.underlying.exchange),
            "tradingsymbol": ref.symbol,
            "instrument_token": int(ref.token),
            "product": trade.product,
            "average_price": money(trade.price),
            "quantity": trade.quantity,
            "exchange_order_id": f"1{trade.order_id}",
            "transaction_type": trade.side,
            "fill_timestamp": ist_text(trade.at),
            "order_timestamp": ist_text(trade.at)[11:],
            "exchange_timestamp": ist_text(trade.at),
        }

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
        rows = []
        for p in self.exchange.positions(session.client_id):
            instrument = self.exchange.resolve_key(p.key)
            ref = instrument.refs[Broker.KITE]
            rows.append(
                {
                    "tradingsymbol": ref.symbol,
                    "exchange": str(p.key.underlying.exchange),
                    "instrument_token": int(ref.token),
                    "product": p.product,
                    "quantity": p.quantity,
                    "overnight_quantity": 0,
                    "multiplier": 1,
                    "average_price": money(p.average_price),
                    "close_price": 0,
                    "last_price": money(p.last_price),
                    "value": money(p.sell_value - p.buy_value),
                    "pnl": money(p.pnl),
                    "m2m": money(p.pnl),
                    "unrealised": money(p.unrealised),
                    "realised": money(p.realised),
                    "buy_quantity": p.buy_quantity,
                    "buy_price": money(p.buy_value / p.buy_quantity) if p.buy_quantity else 0,
                    "buy_value": money(p.buy_value),
                    "sell_quantity": p.sell_quantity,
                    "sell_price": money(p.sell_value / p.sell_quantity) if p.sell_quantity else 0,
                    "sell_value": money(p.sell_value),
                    "day_buy_quantity": p.buy_quantity,
                    "day_sell_quantity": p.sell_quantity,
                }
            )
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
                data[name]["depth"] = self._depth(price, instrument)
        return ok(data)

    def _depth(self, price: Decimal, instrument: Any) -> dict[str, list[dict[str, Any]]]:
        """The exchange matches at the last price, at most ``partial_fill_lots`` per look: its
        depth says exactly that (one level each side); without a cap, only empty levels (Kite
        pads a side with no orders with zeros)."""
        empty = {"price": 0, "quantity": 0, "orders": 0}
        cap = self.exchange.partial_fill_lots
        if cap is None or instrument is None:
            return {"buy": [empty] * 5, "sell": [empty] * 5}
        level = {"price": money(price), "quantity": cap * instrument.lot_size, "orders": 1}
        return {"buy": [level] + [empty] * 4, "sell": [level] + [empty] * 4}

    def instruments(self, _r: Request, _s: Session | None, args: dict[str, str]) -> Response:
        wanted = args.get("exchange")
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(MASTER_COLUMNS)
        for i in self.exchange.instruments():
            if wanted and str(i.exchange) != wanted:
                continue
            ref = i.refs[Broker.KITE]
            writer.writerow(
                [
                    ref.token, ref.token[-6:], ref.symbol, str(i.underlying), "0",
                    i.expiry.isoformat(), format_strike(i.strike), str(i.tick_size), i.lot_size,
                    str(i.option_type), f"{i.exchange}-OPT", str(i.exchange),
                ]
            )  # fmt: skip
        return Response(out.getvalue(), mimetype="text/csv")
