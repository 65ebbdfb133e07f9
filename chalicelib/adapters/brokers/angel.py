"""Angel One SmartAPI.

Dialect: JSON bodies, ``Authorization: Bearer <jwt>`` plus the ``X-PrivateKey`` (api key),
``X-UserType``, ``X-SourceID``, client IP and MAC headers on every call; replies ``{"status":
true|false, "message", "errorcode", "data"}``. Orders need the symbol token from the scrip
master. Statuses are lowercase. The rate gate answers HTTP 403 with the plain text "Access denied
because of exceeding access rate".

Varieties: a stop-loss order lives in variety ``STOPLOSS`` and a plain one in ``NORMAL``;
``modifyOrder`` and ``cancelOrder`` must name the order's variety. The adapter remembers the
variety of the orders it placed and looks an unknown one up in the order book before cancelling.

Login: SmartAPI's personal-app flow is ``loginByPassword`` with client code, MPIN and a TOTP.
``exchange_code(code)`` takes the current TOTP as the code (the MPIN is in
``Credentials.extra["pin"]``); ``login_url`` points at the publisher login page for apps that
use the redirect flow instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from chalicelib.adapters.brokers.base import HttpBroker
from chalicelib.adapters.brokers.config import AdapterConfig
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
from chalicelib.adapters.brokers.placement import PlaceCall
from chalicelib.adapters.brokers.session_expiry import session_expiry
from chalicelib.domain.brokers import ANGELONE
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
    OrderNotFound,
    RateLimited,
    Rejected,
    Unavailable,
)

ORDER = "/rest/secure/angelbroking/order/v1"
STATUSES: Mapping[str, OrderStatus] = {
    "OPEN": OrderStatus.OPEN,
    "COMPLETE": OrderStatus.COMPLETE,
    "CANCELLED": OrderStatus.CANCELLED,
    "REJECTED": OrderStatus.REJECTED,
    "TRIGGER PENDING": OrderStatus.TRIGGER_PENDING,
    "MODIFIED": OrderStatus.OPEN,
}
PRODUCTS = {Product.MIS: "INTRADAY", Product.NRML: "CARRYFORWARD"}
PRODUCT_BACK = {"INTRADAY": Product.MIS, "CARRYFORWARD": Product.NRML}
ORDER_TYPES = {OrderType.LIMIT: "LIMIT", OrderType.SL_LIMIT: "STOPLOSS_LIMIT"}
VARIETIES = {OrderType.LIMIT: "NORMAL", OrderType.SL_LIMIT: "STOPLOSS"}
RMS_WORDS = ("rms", "margin", "insufficient", "circuit", "freeze")


def _fault(body: Mapping[str, Any]) -> Fault:
    code = text_of(body.get("errorcode") or body.get("errorCode")) or None
    return Fault(text_of(body.get("message")), code)


#: ``{"status": false, "message", "errorcode": "AG8001"}``; the rate gate answers plain text.
ERRORS = ErrorTable(
    failed=lambda body: body.get("status") is False,
    read=_fault,
    text_rules=(Rule(RateLimited, words=("exceeding access rate",)),),
    rules=(
        Rule(RateLimited, statuses={429}),
        IP_REFUSED,
        Rule(
            AuthExpired,
            statuses={401},
            codes={"AG8001", "AG8002", "AG8003", "AB8050", "AB8051", "AB1010", "AB1011"},
        ),
        SERVER_ERROR,
        Rule(Unavailable, codes={"AB1004", "AB2000", "AB2001"}, retryable=False),
        Rule(OrderNotFound, codes={"AB1013"}),
        Rule(Rejected, words=RMS_WORDS),
    ),
)


class AngelBroker(HttpBroker):
    name = ANGELONE.name
    default_hosts: Mapping[str, str] = {
        "api": "https://apiconnect.angelone.in",
        "login": "https://smartapi.angelone.in",
        "master": "https://margincalculator.angelbroking.com",
    }
    errors = ERRORS

    def __init__(self, config: AdapterConfig) -> None:
        super().__init__(config)
        #: order id -> variety, for the orders this adapter placed (cancel must name it).
        self._varieties: dict[str, str] = {}

    def login_url(self, state: str) -> str:
        query = urlencode({"api_key": self.config.credentials.api_key, "state": state})
        return f"{self.hosts['login']}/publisher-login?{query}"

    def exchange_code(self, code: str) -> Session:
        """``code`` is the TOTP; client code and MPIN come from the credentials."""
        creds = self.config.credentials
        issued = self.config.now()
        data = self._call(
            "POST",
            "api",
            "/rest/auth/angelbroking/user/v1/loginByPassword",
            idempotent=False,
            headers=self._base_headers(),
            json={
                "clientcode": creds.client_id,
                "password": creds.extra.get("pin", ""),
                "totp": code,
            },
        )["data"]
        return Session(
            broker=self.name,
            access_token=str(data["jwtToken"]).removeprefix("Bearer "),
            expires_at=session_expiry(self.name, issued),
            user_id=creds.client_id,
            extra={
                "refresh_token": str(data.get("refreshToken", "")),
                "feed_token": str(data.get("feedToken", "")),
            },
        )

    def _base_headers(self) -> dict[str, str]:
        return {
            "X-PrivateKey": self.config.credentials.api_key,
            "X-UserType": "USER",
            "X-SourceID": "WEB",
            "X-ClientLocalIP": "127.0.0.1",
            "X-ClientPublicIP": "127.0.0.1",
            "X-MACAddress": "00:00:00:00:00:00",
            "Accept": "application/json",
        }

    def _headers(self) -> dict[str, str]:
        return {**self._base_headers(), "Authorization": f"Bearer {self.session.access_token}"}

    # ----------------------------------------------------------------- orders
    def _place_call(self, request: OrderRequest) -> PlaceCall:
        payload = self._order_fields(request)
        return PlaceCall(
            "POST", "api", f"{ORDER}/placeOrder", {"headers": self._headers(), "json": payload}
        )

    def _order_fields(self, request: OrderRequest) -> dict[str, str]:
        """The placement's fields (the basket margin reuses its contract and enums)."""
        ref = broker_ref(request.instrument, DomainBroker.ANGEL, self.name)
        return {
            "variety": VARIETIES[request.order_type],
            "tradingsymbol": ref.symbol,
            "symboltoken": ref.token,
            "transactiontype": str(request.side),
            "exchange": str(request.instrument.exchange),
            "ordertype": ORDER_TYPES[request.order_type],
            "producttype": PRODUCTS[request.product],
            "duration": "DAY",
            "price": price_text(request.price),
            "triggerprice": price_text(request.trigger) if request.trigger else "0",
            "quantity": str(request.quantity),
            "ordertag": request.tag,
        }

    def _place_ack(self, body: Any, request: OrderRequest) -> OrderAck:
        data = body["data"]
        self._varieties[str(data["orderid"])] = VARIETIES[request.order_type]
        return OrderAck(str(data["orderid"]), tag=request.tag)

    def _cancel(self, order_id: str) -> OrderAck:
        data = self._call(
            "POST",
            "api",
            f"{ORDER}/cancelOrder",
            idempotent=False,
            headers=self._headers(),
            json={"variety": self._variety_of(order_id), "orderid": order_id},
        )["data"]
        return OrderAck(str(data.get("orderid", order_id)))

    def _variety_of(self, order_id: str) -> str:
        """The variety the order was placed in: remembered, else from the order book."""
        known = self._varieties.get(order_id)
        if known is not None:
            return known
        rows = self._call(
            "GET", "api", f"{ORDER}/getOrderBook", idempotent=True, headers=self._headers()
        )["data"]
        for row in rows or []:
            if str(row.get("orderid")) == order_id and row.get("variety"):
                self._varieties[order_id] = str(row["variety"])
                return self._varieties[order_id]
        return VARIETIES[OrderType.LIMIT]  # not in the book: the broker's refusal will say so

    def _modify(self, order_id: str, change: Modification, request: OrderRequest) -> OrderAck:
        ref = broker_ref(request.instrument, DomainBroker.ANGEL, self.name)
        order_type = change.order_type or request.order_type
        trigger = change.trigger or request.trigger
        data = self._call(
            "POST",
            "api",
            f"{ORDER}/modifyOrder",
            idempotent=False,
            headers=self._headers(),
            json={
                # The order's own variety (fixed at placement), whatever the new order type.
                "variety": VARIETIES[request.order_type],
                "orderid": order_id,
                "ordertype": ORDER_TYPES[order_type],
                "producttype": PRODUCTS[request.product],
                "duration": "DAY",
                "price": price_text(change.price or request.price),
                "triggerprice": price_text(trigger) if trigger else "0",
                "quantity": str(change.quantity or request.quantity),
                "tradingsymbol": ref.symbol,
                "symboltoken": ref.token,
                "exchange": str(request.instrument.exchange),
            },
        )["data"]
        return OrderAck(str(data.get("orderid", order_id)))

    def status(self, order_id: str) -> OrderState:
        """From the order book (``details`` needs the unique order id, which callers lack)."""
        for state in self.order_book():
            if state.order_id == order_id:
                return state
        raise OrderNotFound(f"order {order_id} is not in today's order book", broker=self.name)

    def order_book(self) -> Sequence[OrderState]:
        data = self._call(
            "GET", "api", f"{ORDER}/getOrderBook", idempotent=True, headers=self._headers()
        )["data"]
        return [self._state(row) for row in data or []]

    def _state(self, row: Mapping[str, Any]) -> OrderState:
        raw = str(row.get("status") or row.get("orderstatus") or "")
        side = str(row.get("transactiontype") or "")
        return OrderState(
            order_id=str(row["orderid"]),
            status=map_status(STATUSES, raw, self.name),
            quantity=whole(row.get("quantity")),
            filled_quantity=whole(row.get("filledshares")),
            average_price=decimal_or_none(row.get("averageprice")),
            tag=str(row.get("ordertag") or ""),
            symbol=str(row.get("tradingsymbol") or ""),
            side=Side(side) if side in ("BUY", "SELL") else None,
            message=str(row.get("text") or ""),
            broker_status=raw,
        )

    # ----------------------------------------------------------------- portfolio / data
    def positions(self) -> Sequence[Position]:
        data = self._call(
            "GET", "api", f"{ORDER}/getPosition", idempotent=True, headers=self._headers()
        )["data"]
        return [
            Position(
                symbol=str(row.get("tradingsymbol") or ""),
                product=product_from(row.get("producttype"), PRODUCT_BACK),
                net_quantity=whole(row.get("netqty")),
                average_price=decimal_or_none(row.get("netprice") or row.get("avgnetprice")),
                last_price=decimal_or_none(row.get("ltp")),
                exchange=str(row.get("exchange") or ""),
            )
            for row in data or []
        ]

    def basket_margin(self, requests: Sequence[OrderRequest]) -> Decimal:
        """``margin/v1/batch``: ``data.totalMarginRequired`` for the positions together."""
        positions = [
            {
                **pick(
                    self._order_fields(r),
                    "exchange",
                    productType="producttype",
                    token="symboltoken",
                    tradeType="transactiontype",
                    orderType="ordertype",
                ),
                "qty": r.quantity,
                "price": float(r.price),
            }
            for r in requests
        ]
        body = self._call(
            "POST", "api", "/rest/secure/angelbroking/margin/v1/batch", idempotent=True,
            headers=self._headers(), json={"positions": positions},
        )  # fmt: skip
        data = body.get("data") or {}
        return rupees(data.get("totalMarginRequired"), self.name, "totalMarginRequired")

    def funds(self) -> Decimal:
        """``user/v1/getRMS``: ``net`` (available to trade, text)."""
        body = self._call(
            "GET", "api", "/rest/secure/angelbroking/user/v1/getRMS", idempotent=True,
            headers=self._headers(),
        )  # fmt: skip
        return rupees((body.get("data") or {}).get("net"), self.name, "net")

    def quotes(self, instruments: Sequence[Instrument]) -> Mapping[ContractKey, Decimal]:
        by_token: dict[tuple[str, str], ContractKey] = {}
        tokens: dict[str, list[str]] = {}
        for i in instruments:
            token = broker_ref(i, DomainBroker.ANGEL, self.name).token
            by_token[(str(i.exchange), token)] = i.key
            tokens.setdefault(str(i.exchange), []).append(token)
        if not tokens:
            return {}
        data = self._call(
            "POST",
            "api",
            "/rest/secure/angelbroking/market/v1/quote/",
            idempotent=True,
            headers=self._headers(),
            json={"mode": "LTP", "exchangeTokens": tokens},
        )["data"]
        result = {}
        for row in (data or {}).get("fetched") or []:
            key = by_token.get((str(row.get("exchange")), str(row.get("symbolToken"))))
            price = decimal_or_none(row.get("ltp"))
            if key is not None and price is not None:
                result[key] = price
        return result

    def instruments(self) -> bytes:
        return self._master("master", "/OpenAPI_File/files/OpenAPIScripMaster.json")
