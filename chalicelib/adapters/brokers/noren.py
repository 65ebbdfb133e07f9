"""Noren OMS: Finvasia Shoonya and Zebu (same protocol, different host).

Dialect: every call is a POST to ``/NorenWClientAPI/<Method>`` whose body is the text
``jData=<json>`` (string values throughout), with ``Authorization: Bearer <token>`` since the
2026 OAuth flow. Replies carry ``stat: "Ok" | "Not_Ok"`` and ``emsg``; list endpoints answer a
JSON array, or ``Not_Ok`` with "no data" when empty. API orders are LMT / SL-LMT only. Token
exchange: ``GenAcsTok`` with checksum sha256(client_id + secret + code).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from chalicelib.adapters.brokers.base import HttpBroker
from chalicelib.adapters.brokers.conversions import (
    broker_ref,
    decimal_or_none,
    map_status,
    pick,
    price_text,
    product_from,
    rupees,
    whole,
)
from chalicelib.adapters.brokers.error_table import (
    IP_REFUSED,
    SERVER_ERROR,
    ErrorTable,
    Fault,
    Rule,
    text_of,
)
from chalicelib.adapters.brokers.http_client import join_csv
from chalicelib.adapters.brokers.placement import PlaceCall
from chalicelib.adapters.brokers.session_expiry import session_expiry
from chalicelib.domain.brokers import SHOONYA, ZEBU
from chalicelib.domain.instrument import Broker as DomainBroker
from chalicelib.domain.instrument import ContractKey, Instrument
from chalicelib.ports.broker import (
    Modification,
    OrderAck,
    OrderRequest,
    OrderState,
    OrderStatus,
    OrderType,
    Position,
    Product,
    Session,
    Side,
)
from chalicelib.ports.broker_errors import (
    AuthExpired,
    BrokerError,
    OrderNotFound,
    RateLimited,
    Rejected,
)

STATUSES: Mapping[str, OrderStatus] = {
    "OPEN": OrderStatus.OPEN,
    "COMPLETE": OrderStatus.COMPLETE,
    "CANCELED": OrderStatus.CANCELLED,
    "CANCELLED": OrderStatus.CANCELLED,
    "REJECTED": OrderStatus.REJECTED,
    "TRIGGER_PENDING": OrderStatus.TRIGGER_PENDING,
    "PENDING": OrderStatus.PENDING,
}
PRODUCTS = {Product.MIS: "I", Product.NRML: "M"}
PRODUCT_BACK = {"I": Product.MIS, "M": Product.NRML}
PRICE_TYPES = {OrderType.LIMIT: "LMT", OrderType.SL_LIMIT: "SL-LMT"}
SIDES = {Side.BUY: "B", Side.SELL: "S"}
SIDE_BACK = {"B": Side.BUY, "S": Side.SELL}
RMS_WORDS = ("rms", "margin", "insufficient", "circuit", "freeze", "lot")
#: ``{"stat": "Not_Ok", "emsg": ...}``: no codes, so the words decide (the code kept is ``stat``).
ERRORS = ErrorTable(
    failed=lambda body: body.get("stat") == "Not_Ok",
    read=lambda body: Fault(text_of(body.get("emsg")), text_of(body.get("stat")) or None),
    rules=(
        Rule(RateLimited, statuses={429}, words=("rate limit", "too many")),
        IP_REFUSED,
        Rule(AuthExpired, statuses={401}, words=("session", "token")),
        SERVER_ERROR,
        Rule(OrderNotFound, words=("not found", "invalid order")),
        Rule(Rejected, words=RMS_WORDS),
    ),
)


def noren_checksum(client_id: str, secret: str, code: str) -> str:
    """GenAcsTok checksum: hex sha256 of client_id + secret + code."""
    return hashlib.sha256(f"{client_id}{secret}{code}".encode()).hexdigest()


def no_data(body: Any) -> bool:
    """Noren answers an empty list as ``Not_Ok`` / "no data"."""
    return isinstance(body, dict) and "no data" in str(body.get("emsg", "")).lower()


class NorenBroker(HttpBroker):
    """Shared Noren behaviour; Shoonya and Zebu differ only in name and hosts."""

    name = "noren"
    default_hosts: Mapping[str, str] = {}
    errors = ERRORS

    def login_url(self, state: str) -> str:
        creds = self.config.credentials
        query = urlencode(
            {"client_id": creds.api_key, "redirect_uri": creds.redirect_url, "state": state}
        )
        return f"{self.hosts['login']}/OAuthlogin/authorize/oauth?{query}"

    def exchange_code(self, code: str) -> Session:
        creds = self.config.credentials
        issued = self.config.now()
        body = self._post(
            "GenAcsTok",
            {"code": code, "checksum": noren_checksum(creds.api_key, creds.api_secret, code)},
            authenticated=False,
        )
        token = body.get("access_token") or body.get("susertoken")
        return Session(
            broker=self.name,
            access_token=str(token),
            expires_at=session_expiry(self.name, issued),
            user_id=str(body.get("uid") or body.get("actid") or creds.client_id),
        )

    @property
    def _uid(self) -> str:
        return self.session.user_id or self.config.credentials.client_id

    def _post(
        self,
        method: str,
        data: Mapping[str, Any],
        *,
        authenticated: bool = True,
        idempotent: bool = False,
    ) -> Any:
        kwargs = self._post_kwargs(data, authenticated=authenticated)
        return self._call("POST", "api", f"/{method}", idempotent=idempotent, **kwargs)

    def _post_kwargs(self, data: Mapping[str, Any], *, authenticated: bool) -> dict[str, Any]:
        """Noren's request shape: ``jData=<json>`` as text/plain, the session as a bearer."""
        headers = {"Content-Type": "text/plain"}
        if authenticated:
            headers["Authorization"] = f"Bearer {self.session.access_token}"
        content = f"jData={json.dumps(data, separators=(',', ':'))}".encode()
        return {"headers": headers, "content": content}

    def _list(self, method: str, data: Mapping[str, Any]) -> list[Any]:
        try:
            body = self._post(method, data, idempotent=True)
        except BrokerError as exc:
            if "no data" in exc.message.lower():
                return []
            raise
        return body if isinstance(body, list) else []

    # ----------------------------------------------------------------- orders
    def _place_call(self, request: OrderRequest) -> PlaceCall:
        data = {"uid": self._uid, "actid": self._uid, **self._order_fields(request)}
        return PlaceCall("POST", "api", "/PlaceOrder", self._post_kwargs(data, authenticated=True))

    def _order_fields(self, request: OrderRequest) -> dict[str, str]:
        """The placement's fields but the user's (the basket margin reuses them)."""
        ref = broker_ref(request.instrument, DomainBroker.NOREN, self.name)
        data = {
            "exch": str(request.instrument.exchange),
            "tsym": ref.symbol,
            "qty": str(request.quantity),
            "prc": price_text(request.price),
            "prd": PRODUCTS[request.product],
            "trantype": SIDES[request.side],
            "prctyp": PRICE_TYPES[request.order_type],
            "ret": "DAY",
            "remarks": request.tag,
            "ordersource": "API",
            "dscqty": "0",
        }
        if request.trigger is not None:
            data["trgprc"] = price_text(request.trigger)
        return data

    def _place_ack(self, body: Any, request: OrderRequest) -> OrderAck:
        return OrderAck(str(body["norenordno"]), tag=request.tag)

    def _cancel(self, order_id: str) -> OrderAck:
        body = self._post("CancelOrder", {"uid": self._uid, "norenordno": order_id})
        return OrderAck(str(body.get("result") or order_id))

    def _modify(self, order_id: str, change: Modification, request: OrderRequest) -> OrderAck:
        order_type = change.order_type or request.order_type
        data = {
            "uid": self._uid,
            "exch": str(request.instrument.exchange),
            "tsym": broker_ref(request.instrument, DomainBroker.NOREN, self.name).symbol,
            "norenordno": order_id,
            "prctyp": PRICE_TYPES[order_type],
            "prc": price_text(change.price or request.price),
            "qty": str(change.quantity or request.quantity),
            "ret": "DAY",
        }
        trigger = change.trigger or request.trigger
        if order_type is OrderType.SL_LIMIT and trigger is not None:
            data["trgprc"] = price_text(trigger)
        body = self._post("ModifyOrder", data)
        return OrderAck(str(body.get("result") or order_id))

    def status(self, order_id: str) -> OrderState:
        """Newest entry of ``SingleOrdHist`` (the history is newest first)."""
        history = self._list("SingleOrdHist", {"uid": self._uid, "norenordno": order_id})
        if not history:
            raise OrderNotFound(f"order {order_id} has no history", broker=self.name)
        return self._state(history[0])

    def order_book(self) -> Sequence[OrderState]:
        return [self._state(row) for row in self._list("OrderBook", {"uid": self._uid})]

    def _state(self, row: Mapping[str, Any]) -> OrderState:
        raw = str(row.get("status") or "")
        return OrderState(
            order_id=str(row["norenordno"]),
            status=map_status(STATUSES, raw, self.name),
            quantity=whole(row.get("qty")),
            filled_quantity=whole(row.get("fillshares")),
            average_price=decimal_or_none(row.get("avgprc")),
            tag=str(row.get("remarks") or ""),
            symbol=str(row.get("tsym") or ""),
            side=SIDE_BACK.get(str(row.get("trantype") or "")),
            message=str(row.get("rejreason") or ""),
            broker_status=raw,
        )

    # ----------------------------------------------------------------- portfolio / data
    def positions(self) -> Sequence[Position]:
        rows = self._list("PositionBook", {"uid": self._uid, "actid": self._uid})
        return [
            Position(
                symbol=str(row.get("tsym") or ""),
                product=product_from(row.get("prd"), PRODUCT_BACK),
                net_quantity=whole(row.get("netqty")),
                average_price=decimal_or_none(row.get("netavgprc")),
                last_price=decimal_or_none(row.get("lp")),
                exchange=str(row.get("exch") or ""),
            )
            for row in rows
        ]

    def basket_margin(self, requests: Sequence[OrderRequest]) -> Decimal:
        """``GetBasketMargin``: the first order at the top level, the others in
        ``basketlists``; ``marginused`` is what the basket blocks."""
        orders = [
            pick(self._order_fields(r), "exch", "tsym", "qty", "prc", "prd", "trantype", "prctyp")
            for r in requests
        ]
        data = {"uid": self._uid, "actid": self._uid, **orders[0]}
        if len(orders) > 1:
            data["basketlists"] = orders[1:]
        body = self._post("GetBasketMargin", data, idempotent=True)
        return rupees(body.get("marginused"), self.name, "marginused")

    def funds(self) -> Decimal:
        """``Limits``: cash + pay-in + collateral - margin used."""
        body = self._post("Limits", {"uid": self._uid, "actid": self._uid}, idempotent=True)
        total = sum(
            (rupees(body.get(f) or 0, self.name, f) for f in ("cash", "payin", "brkcollamt")),
            Decimal(0),
        )
        return total - rupees(body.get("marginused") or 0, self.name, "marginused")

    def quotes(self, instruments: Sequence[Instrument]) -> Mapping[ContractKey, Decimal]:
        """One ``GetQuotes`` per contract (Noren has no batch LTP call)."""
        result = {}
        for i in instruments:
            token = broker_ref(i, DomainBroker.NOREN, self.name).token
            body = self._post(
                "GetQuotes",
                {"uid": self._uid, "exch": str(i.exchange), "token": token},
                idempotent=True,
            )
            price = decimal_or_none(body.get("lp"))
            if price is not None:
                result[i.key] = price
        return result

    def instruments(self) -> bytes:
        """NFO and BFO symbol files (zipped on the broker's site) joined under one header."""
        nfo = self._master("master", "/NFO_symbols.txt.zip")
        bfo = self._master("master", "/BFO_symbols.txt.zip")
        return join_csv(nfo, bfo)


class ShoonyaBroker(NorenBroker):
    name = SHOONYA.name
    default_hosts: Mapping[str, str] = {
        "api": "https://api.shoonya.com/NorenWClientAPI",
        "login": "https://api.shoonya.com",
        "master": "https://api.shoonya.com",
    }


class ZebuBroker(NorenBroker):
    name = ZEBU.name
    default_hosts: Mapping[str, str] = {
        "api": "https://go.mynt.in/NorenWClientAPI",
        "login": "https://go.mynt.in",
        "master": "https://go.mynt.in",
    }
