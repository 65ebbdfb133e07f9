"""Noren OMS dialect: Finvasia Shoonya and Zebu (one protocol; ``NorenRestApiPy`` speaks it).

Login (OAuth, since 2026-04): the browser opens ``GET /OAuthlogin/authorize/oauth?client_id=..
&redirect_uri=..&state=..`` and is redirected with ``code`` (and ``state``). ``POST
/NorenWClientAPI/GenAcsTok`` with ``jData={"code", "checksum"}`` checks ``checksum =
sha256(client_id + secret + code)`` and answers ``access_token`` (also as ``susertoken``). Tokens
end with the overnight EOD process: 05:00 IST (the hour the platform's session rule uses; not
published by the brokers).

Every API call is ``POST /NorenWClientAPI/<Method>`` whose raw body is ``jData=<json>`` (string
values), authenticated by ``Authorization: Bearer <token>`` or, as before OAuth, by a trailing
``&jKey=<susertoken>``. Replies carry ``stat: "Ok"`` or ``{"stat": "Not_Ok", "emsg": ...}``; an
empty book is ``Not_Ok`` / "no data". The OMS words request refusals in the body with HTTP 200;
a bad session is 401, the 10/s limit 429, the static-IP refusal 403 (wording close to, not a copy
of, the real one). API orders are LMT / SL-LMT only: MKT and SL-MKT are always refused, which is
also how an armed ``market_refused`` fault shows (the order never reaches the exchange).

Masters (public): ``/NFO_symbols.txt`` and ``/BFO_symbols.txt`` (and ``.zip`` as the brokers
publish them), in the format ``chalicelib.domain.masters.noren`` parses.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import zipfile
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import unquote_plus

from werkzeug.wrappers import Request, Response

from chalicelib.domain.instrument import Broker, Instrument
from chalicelib.domain.symbols import MONTHS, format_strike
from sim.brokers.base import (
    App,
    FakeBrokerServer,
    Route,
    Session,
    json_response,
    next_at,
    redirect,
    route,
)
from sim.brokers.common import BadInput, decimal_field, int_field, required
from sim.errors import OrderRefused, UnknownOrder
from sim.orderbook import (
    Order,
    OrderRequest,
    OrderType,
    Status,
    Trade,
    broker_reason,
    prices_at,
)

API = "/NorenWClientAPI"
STATUS = {
    Status.OPEN: "OPEN",
    Status.TRIGGER_PENDING: "TRIGGER_PENDING",
    Status.COMPLETE: "COMPLETE",
    Status.CANCELLED: "CANCELED",
    Status.REJECTED: "REJECTED",
}
PRICE_TYPES = {"LMT": OrderType.LIMIT, "SL-LMT": OrderType.SL}
PRICE_TYPE_NAMES = {v: k for k, v in PRICE_TYPES.items()}
MARKET_PRICE_TYPES = frozenset({"MKT", "SL-MKT"})
SIDES = {"B": "BUY", "S": "SELL"}
SIDE_NAMES = {v: k for k, v in SIDES.items()}
PRODUCTS = frozenset({"I", "M"})
#: Index tokens for GetQuotes on the cash segments (NSE indices, BSE SENSEX).
INDEX_TOKENS = {
    ("NSE", "26000"): "NIFTY",
    ("NSE", "26009"): "BANKNIFTY",
    ("NSE", "26037"): "FINNIFTY",
    ("NSE", "26074"): "MIDCPNIFTY",
    ("BSE", "1"): "SENSEX",
}
MASTER_COLUMNS = (
    "Exchange", "Token", "LotSize", "Symbol", "TradingSymbol", "Expiry", "Instrument",
    "OptionType", "StrikePrice", "TickSize",
)  # fmt: skip
NO_DATA = "no data"
_PARSED = "sim.noren.jdata"


def noren_time(moment: datetime) -> str:
    """``HH:MM:SS DD-MM-YYYY`` (request_time, norentm)."""
    return moment.strftime("%H:%M:%S %d-%m-%Y")


def exchange_time(moment: datetime) -> str:
    """``DD-MM-YYYY HH:MM:SS`` (exch_tm, fltm)."""
    return moment.strftime("%d-%m-%Y %H:%M:%S")


def price_text(value: Decimal) -> str:
    """Noren sends every number as a string; prices with two decimals."""
    return f"{value:.2f}"


def parse_body(raw: str) -> tuple[dict[str, Any], str]:
    """``jData=<json>[&jKey=<token>]`` -> (jData, jKey); the JSON may arrive url-encoded."""
    text = raw.strip()
    if not text.startswith("jData="):
        raise BadInput("Invalid Input : jData is missing")
    payload, marker, key = text[len("jData=") :].rpartition("&jKey=")
    if not marker:
        payload, key = text[len("jData=") :], ""
    if payload.startswith("%7B") or payload.startswith("%7b"):
        payload = unquote_plus(payload)
    try:
        data = json.loads(payload)
    except json.JSONDecodeError:
        raise BadInput("Invalid Input : jData is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadInput("Invalid Input : jData must be an object")
    return data, key


def ok(**fields: Any) -> Response:
    """Noren's success reply for single-object calls."""
    return json_response({"stat": "Ok", **fields})


class NorenServer(FakeBrokerServer):
    """Fake Noren OMS (``base_url`` = host + ``/NorenWClientAPI``, as NorenRestApiPy expects)."""

    dialect = "noren"
    api_prefix = API
    token_status = 401
    token_message = "Session Expired :  Invalid Session Key"

    def expiry_for(self, issued: datetime) -> datetime:
        return next_at(issued, 5, 0)

    def routes(self) -> list[Route]:
        methods = {
            "UserDetails": (self.user_details, "read"),
            "PlaceOrder": (self.place, "order"),
            "ModifyOrder": (self.modify, "order"),
            "CancelOrder": (self.cancel, "order"),
            "OrderBook": (self.order_book, "read"),
            "SingleOrdHist": (self.history, "read"),
            "TradeBook": (self.trade_book, "read"),
            "PositionBook": (self.position_book, "read"),
            "GetQuotes": (self.quotes, "read"),
            "GetBasketMargin": (self.basket_margin, "read"),
            "Limits": (self.limits, "read"),
            "Logout": (self.logout, "read"),
        }
        return [
            route("GET", "/OAuthlogin/authorize/oauth", self.login_page, "public"),
            route("POST", f"{API}/GenAcsTok", self.gen_access_token, "public"),
            *(route("POST", f"{API}/{name}", h, kind) for name, (h, kind) in methods.items()),
            route("GET", "/NFO_symbols.txt", self.master, "public"),
            route("GET", "/BFO_symbols.txt", self.master, "public"),
            route("GET", "/NFO_symbols.txt.zip", self.master_zip, "public"),
            route("GET", "/BFO_symbols.txt.zip", self.master_zip, "public"),
        ]

    # ------------------------------------------------------------- protocol
    def jdata(self, request: Request) -> dict[str, Any]:
        """The request's jData (parsed once; ``BadInput`` if absent or malformed)."""
        if _PARSED not in request.environ:
            try:
                request.environ[_PARSED] = parse_body(request.get_data(as_text=True))
            except BadInput as exc:
                request.environ[_PARSED] = exc
        parsed = request.environ[_PARSED]
        if isinstance(parsed, BadInput):
            raise parsed
        return parsed[0]

    def authenticate(self, request: Request) -> Session | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token:
            return self.session_for(token)
        try:
            self.jdata(request)
        except BadInput:
            return None
        key = request.environ[_PARSED][1]
        return self.session_for(key) if key else None

    def error(self, kind: str, message: str, status: int) -> Response:
        if kind in ("input", "order"):
            status = 200
        return json_response({"stat": "Not_Ok", "emsg": message, **self._stamp()}, status)

    def _stamp(self) -> dict[str, str]:
        return {"request_time": noren_time(self.exchange.now())}

    def ip_error(self, request: Request) -> Response:
        return self.error(
            "ip",
            f"Access denied : IP {request.remote_addr} is not whitelisted for API orders",
            403,
        )

    def _user_data(self, request: Request, session: Session) -> dict[str, Any]:
        """jData of an authenticated call whose ``uid`` (if sent) must be the session's user."""
        data = self.jdata(request)
        for name in ("uid", "actid"):
            if data.get(name) not in (None, "", session.client_id):
                raise BadInput(f"Invalid Input : {name} does not match the session")
        return data

    # ------------------------------------------------------------- login
    def login_page(self, request: Request, _s: Session | None, _a: dict[str, str]) -> Response:
        app = self.apps.get(request.args.get("client_id", ""))
        if app is None:
            return self.error("login", "Invalid client_id", 400)
        redirect_uri = request.args.get("redirect_uri")
        if redirect_uri and redirect_uri != app.redirect_url:
            return self.error("login", "Invalid redirect_uri", 400)
        params = {"code": self.issue_code(app.api_key)}
        if request.args.get("state"):
            params["state"] = request.args["state"]
        return redirect(app.redirect_url, params)

    def _app_for_checksum(self, code: str, checksum: str) -> App | None:
        for app in list(self.apps.values()):
            expected = hashlib.sha256(f"{app.api_key}{app.api_secret}{code}".encode()).hexdigest()
            if hmac.compare_digest(expected, checksum):
                return app
        return None

    def gen_access_token(
        self, request: Request, _s: Session | None, _a: dict[str, str]
    ) -> Response:
        try:
            data = self.jdata(request)
            code, checksum = required(data, "code"), required(data, "checksum")
        except BadInput as exc:
            return self.error("input", str(exc), 400)
        app = self._app_for_checksum(code, checksum)
        if app is None:
            return self.error("token", "Invalid checksum", 401)
        if self.redeem_code(code) is not app:
            return self.error("token", "Invalid or expired code", 401)
        session = self.issue_session(app)
        return ok(
            access_token=session.token,
            susertoken=session.token,
            token_type="Bearer",
            expires_in=int((session.expires_at - self.exchange.now()).total_seconds()),
            uid=app.client_id,
            actid=app.client_id,
            uname=f"Paper {app.client_id}",
            brkname="SIM",
            exarr=["NSE", "NFO", "BSE", "BFO"],
            prarr=[{"prd": "I", "s_prdt_ali": "MIS"}, {"prd": "M", "s_prdt_ali": "NRML"}],
            **self._stamp(),
        )

    def logout(self, _r: Request, session: Session | None, _a: dict[str, str]) -> Response:
        assert session is not None
        self.sessions.pop(session.token, None)
        return ok(**self._stamp())

    def user_details(self, request: Request, session: Session | None, _a: dict) -> Response:
        assert session is not None
        try:
            self._user_data(request, session)
        except BadInput as exc:
            return self.error("input", str(exc), 400)
        return ok(
            uid=session.client_id,
            actid=session.client_id,
            uname=f"Paper {session.client_id}",
            exarr=["NSE", "NFO", "BSE", "BFO"],
            **self._stamp(),
        )

    # ------------------------------------------------------------- orders
    def _order_request(self, data: dict[str, Any]) -> OrderRequest:
        price_type = required(data, "prctyp")
        if price_type in MARKET_PRICE_TYPES:
            raise OrderRefused(
                "market_refused", f"Order type {price_type} is not allowed for API orders"
            )
        if price_type not in PRICE_TYPES:
            raise BadInput("Invalid Input : prctyp")
        product, side = required(data, "prd"), SIDES.get(str(data.get("trantype")))
        if product not in PRODUCTS:
            raise BadInput("Invalid Input : prd")
        if side is None:
            raise BadInput("Invalid Input : trantype")
        instrument = self.exchange.resolve(required(data, "tsym"))
        if required(data, "exch") != str(instrument.exchange):
            raise BadInput(f"Invalid Input : {data['tsym']} is not on {data['exch']}")
        retention = str(data.get("ret") or "DAY")
        if retention not in ("DAY", "IOC", "EOS"):
            raise BadInput("Invalid Input : ret")
        return OrderRequest(
            instrument=instrument.key,
            side=side,
            quantity=int_field(data, "qty"),
            order_type=PRICE_TYPES[price_type],
            price=decimal_field(data, "prc"),
            trigger_price=decimal_field(data, "trgprc"),
            product=product,
            validity="IOC" if retention == "IOC" else "DAY",
            tag=str(data.get("remarks") or ""),
        )

    def basket_margin(self, request: Request, session: Session | None, _a: Any) -> Response:
        """``GetBasketMargin``: the first order at the top level, the rest in ``basketlists``;
        ``marginused`` is what the basket blocks (text, as every Noren number)."""
        assert session is not None
        try:
            data = self._user_data(request, session)
            orders = [data, *(data.get("basketlists") or [])]
            legs = [
                (f"{required(o, 'exch')}:{required(o, 'tsym')}",
                 "BUY" if required(o, "trantype") == "B" else "SELL", int_field(o, "qty"),
                 decimal_field(o, "prc") if o.get("prc") else None)
                for o in orders
            ]  # fmt: skip
            need = self.exchange.basket_margin(legs)
        except BadInput as exc:
            return self.error("input", str(exc), 400)
        except OrderRefused as exc:
            return self.error("input", exc.message, 400)
        return ok(marginused=f"{need.total:.2f}", marginusedtrade=f"{need.total:.2f}",
                  remarks="Margin calculated", **self._stamp())  # fmt: skip

    def limits(self, request: Request, session: Session | None, _a: Any) -> Response:
        """``Limits``: cash, collateral and what is already used, as text."""
        assert session is not None
        funds = self.exchange.open_account(session.client_id).funds
        used = funds - self.exchange.available_funds(session.client_id)
        return ok(prfname="ALL", cash=f"{funds:.2f}", payin="0.00", payout="0.00",
                  brkcollamt="0.00", marginused=f"{used:.2f}", **self._stamp())  # fmt: skip

    def place(self, request: Request, session: Session | None, _a: dict[str, str]) -> Response:
        assert session is not None
        try:
            data = self._user_data(request, session)
            order = self.exchange.place(session.client_id, self._order_request(data))
        except BadInput as exc:
            return self.error("input", str(exc), 400)
        except OrderRefused as exc:
            return self.error("order", exc.message, 400)
        return ok(norenordno=order.order_id, **self._stamp())

    def modify(self, request: Request, session: Session | None, _a: dict[str, str]) -> Response:
        assert session is not None
        try:
            data = self._user_data(request, session)
            price_type = data.get("prctyp")
            if price_type and price_type not in PRICE_TYPES:
                raise BadInput("Invalid Input : prctyp")
            order = self.exchange.modify(
                session.client_id,
                required(data, "norenordno"),
                quantity=int_field(data, "qty") if data.get("qty") else None,
                price=decimal_field(data, "prc") if data.get("prc") else None,
                trigger_price=decimal_field(data, "trgprc") if data.get("trgprc") else None,
                order_type=PRICE_TYPES[price_type] if price_type else None,
            )
        except UnknownOrder:
            return self.error("input", "Invalid order number : order not found", 400)
        except BadInput as exc:
            return self.error("input", str(exc), 400)
        except OrderRefused as exc:
            return self.error("order", exc.message, 400)
        return ok(result=order.order_id, **self._stamp())

    def cancel(self, request: Request, session: Session | None, _a: dict[str, str]) -> Response:
        assert session is not None
        try:
            data = self._user_data(request, session)
            order = self.exchange.cancel(session.client_id, required(data, "norenordno"))
        except UnknownOrder:
            return self.error("input", "Invalid order number : order not found", 400)
        except BadInput as exc:
            return self.error("input", str(exc), 400)
        except OrderRefused as exc:
            return self.error("order", exc.message, 400)
        return ok(result=order.order_id, **self._stamp())

    def _contract_fields(self, instrument: Instrument) -> dict[str, str]:
        ref = instrument.refs[Broker.NOREN]
        return {
            "exch": str(instrument.exchange),
            "tsym": ref.symbol,
            "token": ref.token,
            "ls": str(instrument.lot_size),
            "ti": str(instrument.tick_size),
            "pp": "2",
            "prcftr": "1.000000",
        }

    def order_json(self, order: Order, state: dict[str, Any] | None = None) -> dict[str, Any]:
        """An order as OrderBook lists it (``state``: one SingleOrdHist entry instead)."""
        status = Status(state["status"]) if state else order.status
        filled = state["filled_quantity"] if state else order.filled_quantity
        quantity = state["quantity"] if state else order.quantity
        average = Decimal(state["average_price"]) if state else order.average_price
        at = datetime.fromisoformat(state["at"]) if state else order.updated_at
        price, trigger = prices_at(order, state)
        row = {
            "stat": "Ok",
            "norenordno": order.order_id,
            "uid": order.account,
            "actid": order.account,
            **self._contract_fields(self.exchange.resolve_key(order.key)),
            "qty": str(quantity),
            "trantype": SIDE_NAMES[order.side],
            "prctyp": PRICE_TYPE_NAMES.get(order.order_type, str(order.order_type)),
            "ret": order.validity,
            "prc": price_text(price),
            "trgprc": price_text(trigger),
            "rprc": price_text(price),
            "dscqty": "0",
            "prd": order.product,
            "status": STATUS[status],
            "st_intrn": STATUS[status],
            "fillshares": str(filled),
            "avgprc": price_text(average),
            "remarks": order.tag,
            "norentm": noren_time(at),
            "ordenttm": str(int(order.placed_at.timestamp())),
            "exch_tm": exchange_time(at),
            "ordersource": "API",
        }
        if status is not Status.REJECTED:
            row["exchordid"] = f"1{order.order_id}"
        reason = broker_reason(status, (state["message"] if state else order.status_message) or "")
        if status is Status.REJECTED or reason:
            row["rejreason"] = reason
        if status is Status.CANCELLED:
            row["cancelqty"] = str(quantity - filled)
        return row

    def _report(self, state: dict[str, Any], before: dict[str, Any] | None) -> str:
        """Noren's ``rpt`` (report type) for one history entry."""
        status = Status(state["status"])
        if state["message"] == "modified":
            return "Replaced"
        if status is Status.CANCELLED:
            return "Canceled"
        if status is Status.REJECTED:
            return "Rejected"
        if before is not None and state["filled_quantity"] > before["filled_quantity"]:
            return "Fill"
        if state["message"] == "triggered":
            return "TriggerHit"
        return "New"

    def order_book(self, request: Request, session: Session | None, _a: dict) -> Response:
        assert session is not None
        try:
            self._user_data(request, session)
        except BadInput as exc:
            return self.error("input", str(exc), 400)
        orders = self.exchange.orders(session.client_id)
        if not orders:
            return self.error("input", NO_DATA, 200)
        return json_response([self.order_json(o) for o in reversed(orders)])

    def history(self, request: Request, session: Session | None, _a: dict) -> Response:
        """Newest first, ending with the PENDING entry the OMS records before the exchange ack."""
        assert session is not None
        try:
            data = self._user_data(request, session)
            order = self.exchange.order(session.client_id, required(data, "norenordno"))
        except BadInput as exc:
            return self.error("input", str(exc), 400)
        except UnknownOrder:
            return self.error("input", NO_DATA, 200)
        rows, before = [], None
        for state in order.history:
            rows.append({**self.order_json(order, state), "rpt": self._report(state, before)})
            before = state
        first = order.history[0]
        pending = {
            **self.order_json(order, first),
            "status": "PENDING",
            "st_intrn": "PENDING",
            "rpt": "PendingNew",
            "fillshares": "0",
            "avgprc": "0.00",
        }
        pending.pop("rejreason", None)
        pending.pop("exchordid", None)
        return json_response(list(reversed([pending, *rows])))

    def _trade_json(self, trade: Trade) -> dict[str, Any]:
        order = self.exchange.order(trade.account, trade.order_id)
        return {
            "stat": "Ok",
            "norenordno": trade.order_id,
            "uid": trade.account,
            "actid": trade.account,
            **self._contract_fields(self.exchange.resolve_key(trade.key)),
            "prctyp": PRICE_TYPE_NAMES.get(order.order_type, str(order.order_type)),
            "ret": order.validity,
            "prd": trade.product,
            "flid": trade.trade_id,
            "fltm": exchange_time(trade.at),
            "trantype": SIDE_NAMES[trade.side],
            "qty": str(order.quantity),
            "fillshares": str(trade.quantity),
            "flqty": str(trade.quantity),
            "flprc": price_text(trade.price),
            "prc": price_text(order.price),
            "avgprc": price_text(trade.price),
            "norentm": noren_time(trade.at),
            "exch_tm": exchange_time(trade.at),
            "remarks": order.tag,
            "exchordid": f"1{trade.order_id}",
        }

    def trade_book(self, request: Request, session: Session | None, _a: dict) -> Response:
        assert session is not None
        try:
            self._user_data(request, session)
        except BadInput as exc:
            return self.error("input", str(exc), 400)
        trades = self.exchange.trades(session.client_id)
        if not trades:
            return self.error("input", NO_DATA, 200)
        return json_response([self._trade_json(t) for t in reversed(trades)])

    def position_book(self, request: Request, session: Session | None, _a: dict) -> Response:
        assert session is not None
        try:
            self._user_data(request, session)
        except BadInput as exc:
            return self.error("input", str(exc), 400)
        rows = []
        for p in self.exchange.positions(session.client_id):
            buy_avg = p.buy_value / p.buy_quantity if p.buy_quantity else Decimal(0)
            sell_avg = p.sell_value / p.sell_quantity if p.sell_quantity else Decimal(0)
            rows.append(
                {
                    "stat": "Ok",
                    "uid": session.client_id,
                    "actid": session.client_id,
                    **self._contract_fields(self.exchange.resolve_key(p.key)),
                    "prd": p.product,
                    "s_prdt_ali": "MIS" if p.product == "I" else "NRML",
                    "daybuyqty": str(p.buy_quantity),
                    "daysellqty": str(p.sell_quantity),
                    "daybuyamt": price_text(p.buy_value),
                    "daysellamt": price_text(p.sell_value),
                    "daybuyavgprc": price_text(buy_avg),
                    "daysellavgprc": price_text(sell_avg),
                    "cfbuyqty": "0",
                    "cfsellqty": "0",
                    "netqty": str(p.quantity),
                    "netavgprc": price_text(p.average_price),
                    "lp": price_text(p.last_price),
                    "urmtom": price_text(p.unrealised),
                    "rpnl": price_text(p.realised),
                    "mult": "1",
                }
            )
        if not rows:
            return self.error("input", NO_DATA, 200)
        return json_response(rows)

    def quotes(self, request: Request, session: Session | None, _a: dict) -> Response:
        """GetQuotes by exchange + token: an option's token, or an index's cash-segment token."""
        assert session is not None
        try:
            data = self._user_data(request, session)
            exch, token = required(data, "exch"), required(data, "token")
        except BadInput as exc:
            return self.error("input", str(exc), 400)
        index = INDEX_TOKENS.get((exch, token))
        if index is not None:
            return ok(exch=exch, token=token, tsym=index, lp=price_text(self.exchange.spot(index)))
        instrument = self.exchange.listing().find(token)
        if instrument is None or str(instrument.exchange) != exch:
            return self.error("input", NO_DATA, 200)
        price = self.exchange.ltp(instrument.key)
        return ok(**self._contract_fields(instrument), lp=price_text(price), **self._stamp())

    # ------------------------------------------------------------- master
    def _master_text(self, exchange: str) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([*MASTER_COLUMNS, ""])
        for i in self.exchange.instruments():
            if str(i.exchange) != exchange:
                continue
            ref = i.refs[Broker.NOREN]
            expiry = f"{i.key.expiry.day:02d}-{MONTHS[i.key.expiry.month - 1]}-{i.key.expiry.year}"
            writer.writerow(
                [
                    exchange, ref.token, i.lot_size, str(i.underlying), ref.symbol, expiry,
                    "OPTIDX", str(i.option_type), format_strike(i.strike), str(i.tick_size), "",
                ]
            )  # fmt: skip
        return out.getvalue()

    def master(self, request: Request, _s: Session | None, _a: dict[str, str]) -> Response:
        exchange = request.path.strip("/").partition("_")[0]
        return Response(self._master_text(exchange), mimetype="text/plain")

    def master_zip(self, request: Request, _s: Session | None, _a: dict[str, str]) -> Response:
        name = request.path.strip("/").removesuffix(".zip")
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(name, self._master_text(name.partition("_")[0]))
        return Response(buffer.getvalue(), mimetype="application/zip")
