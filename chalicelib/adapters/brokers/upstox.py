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

import httpx

from chalicelib.adapters.brokers.base import (
    HttpBroker,
    PlaceCall,
    broker_ref,
    decimal_or_none,
    map_status,
    mentions_ip_refusal,
    price_number,
    product_from,
    rupees,
    server_error,
    whole,
)
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
from chalicelib.ports.broker_errors import (
    AuthExpired,
    BrokerError,
    InvalidOrder,
    IpNotAllowed,
    OrderNotFound,
    RateLimited,
    Rejected,
)

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
AUTH_CODES = frozenset({"UDAPI100050", "UDAPI100067", "UDAPI100016"})
RATE_CODES = frozenset({"UDAPI10005"})
NOT_FOUND_CODES = frozenset({"UDAPI100010", "UDAPI1023"})
RMS_WORDS = ("rms", "margin", "insufficient", "circuit", "freeze")


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
        payload = {
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
        return PlaceCall(
            "POST", "hft", "/v3/order/place", {"headers": self._headers(), "json": payload}
        )

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
            {
                "instrument_key": instrument_key(r.instrument, self.name),
                "quantity": r.quantity,
                "transaction_type": str(r.side),
                "product": PRODUCTS[r.product],
                "price": price_number(r.price),
            }
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

    # ----------------------------------------------------------------- errors
    def _classify(self, response: httpx.Response, body: Any) -> BrokerError | None:
        status = response.status_code
        if not isinstance(body, dict) or (status < 400 and body.get("status") != "error"):
            return None
        first = (body.get("errors") or [{}])[0]
        message = str(first.get("message") or body.get("message") or response.reason_phrase)
        code = str(first.get("errorCode") or first.get("error_code") or "") or None
        args = {"broker": self.name, "code": code, "http_status": status}
        if status == 429 or code in RATE_CODES:
            return RateLimited(message, **args)
        if mentions_ip_refusal(message):
            return IpNotAllowed(message, **args)
        if code in AUTH_CODES or status == 401:
            return AuthExpired(message, **args)
        if status >= 500:
            return server_error(self.name, response, message, code)
        if code in NOT_FOUND_CODES or status == 404:
            return OrderNotFound(message, **args)
        if any(word in message.lower() for word in RMS_WORDS):
            return Rejected(message, **args)
        return InvalidOrder(message, **args)
