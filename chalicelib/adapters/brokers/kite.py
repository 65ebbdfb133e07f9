"""Zerodha Kite Connect v3.

Dialect: form-encoded requests, ``X-Kite-Version: 3``, ``Authorization: token <api_key>:<token>``,
replies ``{"status": "success", "data": ...}`` or ``{"status": "error", "error_type": ...,
"message": ...}``. Orders carry the tradingsymbol (computable without a master). The login
checksum is sha256(api_key + request_token + api_secret).
"""

from __future__ import annotations

import hashlib
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
from chalicelib.domain.brokers import ZERODHA
from chalicelib.domain.instrument import Broker as DomainBroker
from chalicelib.domain.instrument import ContractKey, Instrument
from chalicelib.domain.paper_matching import BookQuote
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

STATUSES: Mapping[str, OrderStatus] = {
    "OPEN": OrderStatus.OPEN,
    "COMPLETE": OrderStatus.COMPLETE,
    "CANCELLED": OrderStatus.CANCELLED,
    "CANCELLED AMO": OrderStatus.CANCELLED,
    "REJECTED": OrderStatus.REJECTED,
    "TRIGGER PENDING": OrderStatus.TRIGGER_PENDING,
    "PUT ORDER REQ RECEIVED": OrderStatus.PENDING,
    "VALIDATION PENDING": OrderStatus.PENDING,
    "OPEN PENDING": OrderStatus.PENDING,
    "MODIFY VALIDATION PENDING": OrderStatus.PENDING,
    "MODIFY PENDING": OrderStatus.PENDING,
    "CANCEL PENDING": OrderStatus.PENDING,
    "AMO REQ RECEIVED": OrderStatus.PENDING,
}
PRODUCTS = {"MIS": Product.MIS, "NRML": Product.NRML}
ORDER_TYPES = {OrderType.LIMIT: "LIMIT", OrderType.SL_LIMIT: "SL"}
#: ``{"status": "error", "error_type": "<Name>Exception", "message": ...}``.
ERRORS = ErrorTable(
    failed=lambda body: body.get("status") == "error",
    read=lambda body: Fault(text_of(body.get("message")), text_of(body.get("error_type")) or None),
    rules=(
        Rule(RateLimited, statuses={429}),
        IP_REFUSED,
        Rule(AuthExpired, codes={"TokenException"}),
        SERVER_ERROR,
        Rule(Unavailable, codes={"NetworkException", "DataException"}, retryable=False),
        Rule(Rejected, codes={"OrderException", "MarginException", "HoldingException"}),
        Rule(AuthExpired, codes={"PermissionException"}),
        Rule(OrderNotFound, statuses={404}, words=("not found",)),
    ),
)


def kite_checksum(api_key: str, request_token: str, api_secret: str) -> str:
    """The token-exchange checksum: hex sha256 of api_key + request_token + api_secret."""
    return hashlib.sha256(f"{api_key}{request_token}{api_secret}".encode()).hexdigest()


class KiteBroker(HttpBroker):
    name = ZERODHA.name
    default_hosts: Mapping[str, str] = {
        "api": "https://api.kite.trade",
        "login": "https://kite.zerodha.com",
    }
    errors = ERRORS

    # ----------------------------------------------------------------- login
    def login_url(self, state: str) -> str:
        """Kite's login page; ``redirect_params`` carries our state back on the redirect."""
        query = urlencode(
            {
                "v": "3",
                "api_key": self.config.credentials.api_key,
                "redirect_params": urlencode({"state": state}),
            }
        )
        return f"{self.hosts['login']}/connect/login?{query}"

    def exchange_code(self, code: str) -> Session:
        creds = self.config.credentials
        issued = self.config.now()
        data = self._call(
            "POST",
            "api",
            "/session/token",
            idempotent=False,
            headers={"X-Kite-Version": "3"},
            data={
                "api_key": creds.api_key,
                "request_token": code,
                "checksum": kite_checksum(creds.api_key, code, creds.api_secret),
            },
        )["data"]
        return Session(
            broker=self.name,
            access_token=data["access_token"],
            expires_at=session_expiry(self.name, issued),
            user_id=str(data.get("user_id", "")),
        )

    def _headers(self) -> dict[str, str]:
        session = self.session
        return {
            "X-Kite-Version": "3",
            "Authorization": f"token {self.config.credentials.api_key}:{session.access_token}",
        }

    # ----------------------------------------------------------------- orders
    def _place_call(self, request: OrderRequest) -> PlaceCall:
        form = self._order_form(request)
        return PlaceCall(
            "POST", "api", "/orders/regular", {"headers": self._headers(), "data": form}
        )

    def _order_form(self, request: OrderRequest) -> dict[str, str]:
        """The placement's form fields (the basket margin reuses its contract and enums)."""
        ref = broker_ref(request.instrument, DomainBroker.KITE, self.name)
        form = {
            "tradingsymbol": ref.symbol,
            "exchange": str(request.instrument.exchange),
            "transaction_type": str(request.side),
            "order_type": ORDER_TYPES[request.order_type],
            "quantity": str(request.quantity),
            "product": str(request.product),
            "price": price_text(request.price),
            "validity": "DAY",
            "tag": request.tag,
        }
        if request.trigger is not None:
            form["trigger_price"] = price_text(request.trigger)
        return form

    def _place_ack(self, body: Any, request: OrderRequest) -> OrderAck:
        return OrderAck(str(body["data"]["order_id"]), tag=request.tag)

    def _cancel(self, order_id: str) -> OrderAck:
        body = self._call(
            "DELETE",
            "api",
            f"/orders/regular/{order_id}",
            idempotent=False,
            headers=self._headers(),
        )
        return OrderAck(str(body["data"]["order_id"]))

    def _modify(self, order_id: str, change: Modification, request: OrderRequest) -> OrderAck:
        order_type = change.order_type or request.order_type
        form = {
            "quantity": str(change.quantity or request.quantity),
            "price": price_text(change.price or request.price),
            "order_type": ORDER_TYPES[order_type],
            "validity": "DAY",
        }
        trigger = change.trigger or request.trigger
        if order_type is OrderType.SL_LIMIT and trigger is not None:
            form["trigger_price"] = price_text(trigger)
        body = self._call(
            "PUT",
            "api",
            f"/orders/regular/{order_id}",
            idempotent=False,
            headers=self._headers(),
            data=form,
        )
        return OrderAck(str(body["data"]["order_id"]))

    def status(self, order_id: str) -> OrderState:
        """The last entry of the order's history."""
        history = self._call(
            "GET", "api", f"/orders/{order_id}", idempotent=True, headers=self._headers()
        )["data"]
        if not history:
            raise OrderNotFound(f"order {order_id} has no history", broker=self.name)
        return self._state(history[-1])

    def order_book(self) -> Sequence[OrderState]:
        data = self._call("GET", "api", "/orders", idempotent=True, headers=self._headers())
        return [self._state(row) for row in data["data"] or []]

    def _state(self, row: Mapping[str, Any]) -> OrderState:
        raw = str(row.get("status") or "")
        return OrderState(
            order_id=str(row["order_id"]),
            status=map_status(STATUSES, raw, self.name),
            quantity=whole(row.get("quantity")),
            filled_quantity=whole(row.get("filled_quantity")),
            average_price=decimal_or_none(row.get("average_price")),
            tag=str(row.get("tag") or ""),
            symbol=str(row.get("tradingsymbol") or ""),
            side=Side(row["transaction_type"]) if row.get("transaction_type") else None,
            message=str(row.get("status_message") or ""),
            broker_status=raw,
        )

    # ----------------------------------------------------------------- portfolio / data
    def positions(self) -> Sequence[Position]:
        data = self._call(
            "GET", "api", "/portfolio/positions", idempotent=True, headers=self._headers()
        )["data"]
        return [
            Position(
                symbol=str(row["tradingsymbol"]),
                product=product_from(row.get("product"), PRODUCTS),
                net_quantity=whole(row.get("quantity")),
                average_price=decimal_or_none(row.get("average_price")),
                last_price=decimal_or_none(row.get("last_price")),
                exchange=str(row.get("exchange") or ""),
            )
            for row in data.get("net") or []
        ]

    def _quote_rows(
        self, path: str, instruments: Sequence[Instrument]
    ) -> tuple[dict[str, ContractKey], dict[str, Any]]:
        """``GET <path>`` for the instruments: Kite's ``EXCHANGE:SYMBOL`` -> our key, and the rows."""
        keys = {
            f"{i.exchange}:{broker_ref(i, DomainBroker.KITE, self.name).symbol}": i.key
            for i in instruments
        }
        if not keys:
            return keys, {}
        data = self._call(
            "GET",
            "api",
            path,
            idempotent=True,
            headers=self._headers(),
            params=[("i", k) for k in keys],
        )["data"]
        return keys, data

    def quotes(self, instruments: Sequence[Instrument]) -> Mapping[ContractKey, Decimal]:
        keys, data = self._quote_rows("/quote/ltp", instruments)
        prices = {
            keys[k]: decimal_or_none(v.get("last_price")) for k, v in data.items() if k in keys
        }
        return {k: v for k, v in prices.items() if v is not None}

    def depth(self, instruments: Sequence[Instrument]) -> Mapping[ContractKey, BookQuote]:
        """Full quotes (``GET /quote``): last price and the best bid / offer with their sizes,
        which the paper book fills against (``domain/paper_matching.py``)."""
        keys, data = self._quote_rows("/quote", instruments)
        out: dict[ContractKey, BookQuote] = {}
        for name, row in data.items():
            ltp = decimal_or_none(row.get("last_price"))
            if name not in keys or ltp is None or ltp <= 0:
                continue
            book = row.get("depth") or {}
            bid, bid_size = _best(book.get("buy"))
            ask, ask_size = _best(book.get("sell"))
            out[keys[name]] = BookQuote(ltp, bid, bid_size, ask, ask_size)
        return out

    def index_ltp(self, names: Sequence[str]) -> Mapping[str, Decimal]:
        """Spot levels by Kite's index names ("NSE:NIFTY 50", "BSE:SENSEX")."""
        data = self._call(
            "GET",
            "api",
            "/quote/ltp",
            idempotent=True,
            headers=self._headers(),
            params=[("i", n) for n in names],
        )["data"]
        prices = {k: decimal_or_none(v.get("last_price")) for k, v in data.items()}
        return {k: v for k, v in prices.items() if v is not None}

    def basket_margin(self, requests: Sequence[OrderRequest]) -> Decimal:
        """``POST /margins/basket`` (JSON list, compact): ``final.total`` has the benefit."""
        orders = [
            {
                **pick(
                    self._order_form(r),
                    "exchange", "tradingsymbol", "transaction_type", "product", "order_type",
                ),
                "variety": "regular",
                "quantity": r.quantity,
                "price": float(r.price),
                "trigger_price": float(r.trigger or 0),
            }
            for r in requests
        ]  # fmt: skip
        data = self._call(
            "POST", "api", "/margins/basket", idempotent=True, headers=self._headers(),
            params={"consider_positions": "true", "mode": "compact"}, json=orders,
        )["data"]  # fmt: skip
        return rupees((data.get("final") or {}).get("total"), self.name, "final.total")

    def funds(self) -> Decimal:
        """``GET /user/margins``: the equity segment's ``net`` (what is left to use)."""
        data = self._call("GET", "api", "/user/margins", idempotent=True, headers=self._headers())
        return rupees((data["data"].get("equity") or {}).get("net"), self.name, "equity.net")

    def instruments(self) -> bytes:
        """NFO and BFO CSVs joined under one header (the Kite master parser reads both)."""
        nfo, bfo = (
            self._master("api", f"/instruments/{exchange}", headers=self._headers())
            for exchange in ("NFO", "BFO")
        )
        return join_csv(nfo, bfo)


def _best(levels: Any) -> tuple[Decimal | None, int | None]:
    """The first depth level with a price (Kite pads empty levels with zeros)."""
    for level in levels or []:
        price = decimal_or_none(level.get("price"))
        if price is not None and price > 0:
            return price, whole(level.get("quantity"))
    return None, None
