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
publish them), in the format ``chalicelib.domain.masters.noren`` parses. The replies' wording is
in ``sim.brokers.noren_wire``.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import zipfile
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

from werkzeug.wrappers import Request, Response

from sim.brokers.base import FakeBrokerServer
from sim.brokers.common import BadInput, decimal_field, int_field, required
from sim.brokers.noren_wire import (
    PRICE_TYPES,
    SIDES,
    contract_fields,
    error_body,
    history_rows,
    master_text,
    noren_time,
    ok,
    order_row,
    position_row,
    price_text,
    trade_row,
)
from sim.brokers.refusals import Refusals, refusals
from sim.brokers.sessions import App, Session, next_at
from sim.brokers.wsgi import Route, json_response, redirect, route
from sim.errors import OrderRefused, UnknownOrder
from sim.orderbook import Order, OrderRequest, Trade

API = "/NorenWClientAPI"
MARKET_PRICE_TYPES = frozenset({"MKT", "SL-MKT"})
PRODUCTS = frozenset({"I", "M"})
#: Index tokens for GetQuotes on the cash segments (NSE indices, BSE SENSEX).
INDEX_TOKENS = {
    ("NSE", "26000"): "NIFTY",
    ("NSE", "26009"): "BANKNIFTY",
    ("NSE", "26037"): "FINNIFTY",
    ("NSE", "26074"): "MIDCPNIFTY",
    ("BSE", "1"): "SENSEX",
}
NO_DATA = "no data"
_PARSED = "sim.noren.jdata"


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


class NorenServer(FakeBrokerServer):
    """Fake Noren OMS (``base_url`` = host + ``/NorenWClientAPI``, as NorenRestApiPy expects)."""

    dialect = "noren"
    api_prefix = API

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

    def declare_refusals(self) -> Refusals:
        return refusals(
            lambda _kind, message: error_body(message, self.exchange.now()),
            token=(401, "Session Expired :  Invalid Session Key"),
            ip="Access denied : IP {ip} is not whitelisted for API orders",
            unknown_order=("input", "Invalid order number : order not found", 400),
            statuses={"input": 200, "order": 200},  # the OMS words request refusals in a 200
        )

    def _stamp(self) -> dict[str, str]:
        return {"request_time": noren_time(self.exchange.now())}

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
        data = self.jdata(request)
        code, checksum = required(data, "code"), required(data, "checksum")
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
        self._user_data(request, session)
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
        data = self._user_data(request, session)
        orders = [data, *(data.get("basketlists") or [])]
        legs = [
            (f"{required(o, 'exch')}:{required(o, 'tsym')}",
             "BUY" if required(o, "trantype") == "B" else "SELL", int_field(o, "qty"),
             decimal_field(o, "prc") if o.get("prc") else None)
            for o in orders
        ]  # fmt: skip
        need = self.exchange.basket_margin(legs)
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
        data = self._user_data(request, session)
        order = self.exchange.place(session.client_id, self._order_request(data))
        return ok(norenordno=order.order_id, **self._stamp())

    def modify(self, request: Request, session: Session | None, _a: dict[str, str]) -> Response:
        assert session is not None
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
        return ok(result=order.order_id, **self._stamp())

    def cancel(self, request: Request, session: Session | None, _a: dict[str, str]) -> Response:
        assert session is not None
        data = self._user_data(request, session)
        order = self.exchange.cancel(session.client_id, required(data, "norenordno"))
        return ok(result=order.order_id, **self._stamp())

    def order_json(self, order: Order, state: dict[str, Any] | None = None) -> dict[str, Any]:
        """An order as OrderBook lists it (``state``: one SingleOrdHist entry instead)."""
        return order_row(order, self.exchange.resolve_key(order.key), state)

    def order_book(self, request: Request, session: Session | None, _a: dict) -> Response:
        assert session is not None
        self._user_data(request, session)
        orders = self.exchange.orders(session.client_id)
        if not orders:
            return self.error("input", NO_DATA, 200)
        return json_response([self.order_json(o) for o in reversed(orders)])

    def history(self, request: Request, session: Session | None, _a: dict) -> Response:
        """Newest first, ending with the PENDING entry the OMS records before the exchange ack."""
        assert session is not None
        data = self._user_data(request, session)
        try:
            order = self.exchange.order(session.client_id, required(data, "norenordno"))
        except UnknownOrder:
            return self.error("input", NO_DATA, 200)
        return json_response(history_rows(order, self.exchange.resolve_key(order.key)))

    def _trade_json(self, trade: Trade) -> dict[str, Any]:
        order = self.exchange.order(trade.account, trade.order_id)
        return trade_row(trade, order, self.exchange.resolve_key(trade.key))

    def trade_book(self, request: Request, session: Session | None, _a: dict) -> Response:
        assert session is not None
        self._user_data(request, session)
        trades = self.exchange.trades(session.client_id)
        if not trades:
            return self.error("input", NO_DATA, 200)
        return json_response([self._trade_json(t) for t in reversed(trades)])

    def position_book(self, request: Request, session: Session | None, _a: dict) -> Response:
        assert session is not None
        self._user_data(request, session)
        rows = [
            position_row(p, self.exchange.resolve_key(p.key), session.client_id)
            for p in self.exchange.positions(session.client_id)
        ]
        if not rows:
            return self.error("input", NO_DATA, 200)
        return json_response(rows)

    def quotes(self, request: Request, session: Session | None, _a: dict) -> Response:
        """GetQuotes by exchange + token: an option's token, or an index's cash-segment token."""
        assert session is not None
        data = self._user_data(request, session)
        exch, token = required(data, "exch"), required(data, "token")
        index = INDEX_TOKENS.get((exch, token))
        if index is not None:
            return ok(exch=exch, token=token, tsym=index, lp=price_text(self.exchange.spot(index)))
        instrument = self.exchange.listing().find(token)
        if instrument is None or str(instrument.exchange) != exch:
            return self.error("input", NO_DATA, 200)
        price = self.exchange.ltp(instrument.key)
        return ok(**contract_fields(instrument), lp=price_text(price), **self._stamp())

    # ------------------------------------------------------------- master
    def master(self, request: Request, _s: Session | None, _a: dict[str, str]) -> Response:
        exchange = request.path.strip("/").partition("_")[0]
        return Response(master_text(self.exchange.instruments(), exchange), mimetype="text/plain")

    def master_zip(self, request: Request, _s: Session | None, _a: dict[str, str]) -> Response:
        name = request.path.strip("/").removesuffix(".zip")
        text = master_text(self.exchange.instruments(), name.partition("_")[0])
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(name, text)
        return Response(buffer.getvalue(), mimetype="application/zip")
