"""Upstox API v2 (session, reads) and v3 (orders on the HFT host).

Dialect: ``Authorization: Bearer <token>``, JSON bodies, replies ``{"status": "success", "data"}``
or ``{"status": "error", "errors": [{"errorCode": "UDAPI...", "message": ...}]}`` (429:
UDAPI10005). Orders name the contract by instrument key ``NSE_FO|<token>`` from the Upstox master.
Token exchange is a form POST (code, client_id, client_secret, redirect_uri, grant_type).
"""

from __future__ import annotations

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
    price_number,
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
from chalicelib.adapters.brokers.placement import PlaceCall
from chalicelib.adapters.brokers.session_expiry import session_expiry
from chalicelib.domain.brokers import UPSTOX
from chalicelib.domain.instrument import Broker as DomainBroker
from chalicelib.domain.instrument import ContractKey, Instrument
from chalicelib.domain.symbols import upstox_instrument_key
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
from chalicelib.ports.broker_errors import AuthExpired, OrderNotFound, RateLimited, Rejected

STATUSES: Mapping[str, OrderStatus] = {
    "OPEN": OrderStatus.OPEN,
    "COMPLETE": OrderStatus.COMPLETE,
    "CANCELLED": OrderStatus.CANCELLED,
    "REJECTED": OrderStatus.REJECTED,
    "TRIGGER PENDING": OrderStatus.TRIGGER_PENDING,
    "NOT CANCELLED": OrderStatus.OPEN,
    "NOT MODIFIED": OrderStatus.OPEN,
}
PRODUCTS = {Product.MIS: "I", Product.NRML: "D"}
PRODUCT_BACK = {"I": Product.MIS, "D": Product.NRML}
ORDER_TYPES = {OrderType.LIMIT: "LIMIT", OrderType.SL_LIMIT: "SL"}
RMS_WORDS = ("rms", "margin", "insufficient", "circuit", "freeze")


def _fault(body: Mapping[str, Any]) -> Fault:
    """The first of ``errors`` speaks for the reply."""
    first = (body.get("errors") or [{}])[0]
    code = text_of(first.get("errorCode") or first.get("error_code")) or None
    return Fault(text_of(first.get("message") or body.get("message")), code)


#: ``{"status": "error", "errors": [{"errorCode": "UDAPI...", "message": ...}]}``.
ERRORS = ErrorTable(
    failed=lambda body: body.get("status") == "error",
    read=_fault,
    rules=(
        Rule(RateLimited, statuses={429}, codes={"UDAPI10005"}),
        IP_REFUSED,
        Rule(AuthExpired, statuses={401}, codes={"UDAPI100050", "UDAPI100067", "UDAPI100016"}),
        SERVER_ERROR,
        Rule(OrderNotFound, statuses={404}, codes={"UDAPI100010", "UDAPI1023"}),
        Rule(Rejected, words=RMS_WORDS),
    ),
)


def instrument_key(instrument: Instrument, name: str) -> str:
    """``NSE_FO|45450``: the Upstox master stores the key itself as the token."""
    token = broker_ref(instrument, DomainBroker.UPSTOX, name).token
    return token if "|" in token else upstox_instrument_key(instrument.exchange, token)


class UpstoxBroker(HttpBroker):
    name = UPSTOX.name
    order_host = "hft"
    default_hosts: Mapping[str, str] = {
        "api": "https://api.upstox.com",
        "hft": "https://api-hft.upstox.com",
        "master": "https://assets.upstox.com",
    }
    errors = ERRORS

    def login_url(self, state: str) -> str:
        creds = self.config.credentials
        query = urlencode(
            {
                "response_type": "code",
                "client_id": creds.api_key,
                "redirect_uri": creds.redirect_url,
                "state": state,
            }
        )
        return f"{self.hosts['api']}/v2/login/authorization/dialog?{query}"

    def exchange_code(self, code: str) -> Session:
        creds = self.config.credentials
        issued = self.config.now()
        data = self._call(
            "POST",
            "api",
            "/v2/login/authorization/token",
            idempotent=False,
            headers={"Accept": "application/json", "Api-Version": "2.0"},
            data={
                "code": code,
                "client_id": creds.api_key,
                "client_secret": creds.api_secret,
                "redirect_uri": creds.redirect_url,
                "grant_type": "authorization_code",
            },
        )
        return Session(
            broker=self.name,
            access_token=str(data["access_token"]),
            expires_at=session_expiry(self.name, issued),
            user_id=str(data.get("user_id", "")),
        )

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.session.access_token}",
            "Accept": "application/json",
            "Api-Version": "2.0",
        }

    # ----------------------------------------------------------------- orders
    def _place_call(self, request: OrderRequest) -> PlaceCall:
        payload = self._order_fields(request)
        return PlaceCall(
            "POST", "hft", "/v3/order/place", {"headers": self._headers(), "json": payload}
        )

    def _order_fields(self, request: OrderRequest) -> dict[str, Any]:
        """The placement's fields (the basket margin reuses its contract and enums)."""
        return {
            "quantity": request.quantity,
            "product": PRODUCTS[request.product],
            "validity": "DAY",
            "price": price_number(request.price),
            "tag": request.tag,
            "instrument_token": instrument_key(request.instrument, self.name),
            "order_type": ORDER_TYPES[request.order_type],
            "transaction_type": str(request.side),
            "disclosed_quantity": 0,
            "trigger_price": price_number(request.trigger),
            "is_amo": False,
            "slice": False,
        }

    def _place_ack(self, body: Any, request: OrderRequest) -> OrderAck:
        return OrderAck(str(body["data"]["order_ids"][0]), tag=request.tag)

    def _cancel(self, order_id: str) -> OrderAck:
        self._call(
            "DELETE",
            "hft",
            "/v3/order/cancel",
            idempotent=False,
            headers=self._headers(),
            params={"order_id": order_id},
        )
        return OrderAck(order_id)

    def _modify(self, order_id: str, change: Modification, request: OrderRequest) -> OrderAck:
        self._call(
            "PUT",
            "hft",
            "/v3/order/modify",
            idempotent=False,
            headers=self._headers(),
            json={
                "order_id": order_id,
                "quantity": change.quantity or request.quantity,
                "validity": "DAY",
                "price": price_number(change.price or request.price),
                "order_type": ORDER_TYPES[change.order_type or request.order_type],
                "trigger_price": price_number(change.trigger or request.trigger),
                "disclosed_quantity": 0,
            },
        )
        return OrderAck(order_id)

    def status(self, order_id: str) -> OrderState:
        data = self._call(
            "GET",
            "api",
            "/v2/order/details",
            idempotent=True,
            headers=self._headers(),
            params={"order_id": order_id},
        )["data"]
        return self._state(data)

    def order_book(self) -> Sequence[OrderState]:
        data = self._call(
            "GET", "api", "/v2/order/retrieve-all", idempotent=True, headers=self._headers()
        )["data"]
        return [self._state(row) for row in data or []]

    def _state(self, row: Mapping[str, Any]) -> OrderState:
        raw = str(row.get("status") or "")
        side = str(row.get("transaction_type") or "")
        return OrderState(
            order_id=str(row["order_id"]),
            status=map_status(STATUSES, raw, self.name),
            quantity=whole(row.get("quantity")),
            filled_quantity=whole(row.get("filled_quantity")),
            average_price=decimal_or_none(row.get("average_price")),
            tag=str(row.get("tag") or ""),
            symbol=str(row.get("trading_symbol") or row.get("tradingsymbol") or ""),
            side=Side(side) if side in ("BUY", "SELL") else None,
            message=str(row.get("status_message") or ""),
            broker_status=raw,
        )

    # ----------------------------------------------------------------- portfolio / data
    def positions(self) -> Sequence[Position]:
        data = self._call(
            "GET",
            "api",
            "/v2/portfolio/short-term-positions",
            idempotent=True,
            headers=self._headers(),
        )["data"]
        return [
            Position(
                symbol=str(row.get("trading_symbol") or row.get("tradingsymbol") or ""),
                product=product_from(row.get("product"), PRODUCT_BACK),
                net_quantity=whole(row.get("quantity")),
                average_price=decimal_or_none(row.get("average_price")),
                last_price=decimal_or_none(row.get("last_price")),
                exchange=str(row.get("exchange") or ""),
            )
            for row in data or []
        ]

    def basket_margin(self, requests: Sequence[OrderRequest]) -> Decimal:
        """``POST /v2/charges/margin``: ``data.final_margin`` (hedge benefit applied)."""
        instruments = [
            pick(
                self._order_fields(r),
                "quantity",
                "transaction_type",
                "product",
                "price",
                instrument_key="instrument_token",
            )
            for r in requests
        ]
        data = self._call(
            "POST", "api", "/v2/charges/margin", idempotent=True, headers=self._headers(),
            json={"instruments": instruments},
        )["data"]  # fmt: skip
        return rupees((data or {}).get("final_margin"), self.name, "final_margin")

    def funds(self) -> Decimal:
        """``GET /v2/user/get-funds-and-margin?segment=SEC``: ``equity.available_margin``."""
        data = self._call(
            "GET", "api", "/v2/user/get-funds-and-margin", idempotent=True,
            headers=self._headers(), params={"segment": "SEC"},
        )["data"]  # fmt: skip
        equity = (data or {}).get("equity") or {}
        return rupees(equity.get("available_margin"), self.name, "available_margin")

    def quotes(self, instruments: Sequence[Instrument]) -> Mapping[ContractKey, Decimal]:
        keys = {instrument_key(i, self.name): i.key for i in instruments}
        if not keys:
            return {}
        data = self._call(
            "GET",
            "api",
            "/v2/market-quote/ltp",
            idempotent=True,
            headers=self._headers(),
            params={"instrument_key": ",".join(keys)},
        )["data"]
        result = {}
        for row in (data or {}).values():
            key = keys.get(str(row.get("instrument_token")))
            price = decimal_or_none(row.get("last_price"))
            if key is not None and price is not None:
                result[key] = price
        return result

    def instruments(self) -> bytes:
        return self._master("master", "/market-quote/instruments/exchange/complete.json.gz")
