"""Dhan API v2.

Dialect: ``access-token`` header (and ``client-id`` for market data), JSON bodies, errors
``{"errorType", "errorCode": "DH-9xx", "errorMessage"}``. Orders name the contract by the Dhan
security id and ``exchangeSegment`` (NSE_FNO / BSE_FNO); the tag travels as ``correlationId``
and has its own lookup endpoint. Statuses: TRANSIT, PENDING, PART_TRADED, TRADED, REJECTED,
CANCELLED, EXPIRED. There is no trigger-pending status: a stop-loss order (STOP_LOSS /
STOP_LOSS_MARKET) that is PENDING with nothing filled is reported TRIGGER_PENDING (Dhan's book
carries no last price, so a stop that triggered but has not filled yet reads the same).

Login is Dhan's consent flow: ``login_url`` first asks auth.dhan.co for a consent id (with the
app id / secret headers), so unlike the others it makes one request; Dhan does not echo a
``state``, so the caller keeps the state alongside the consent id. ``exchange_code`` consumes the
``tokenId`` from the redirect and takes Dhan's own ``expiryTime``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
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
from chalicelib.domain.brokers import DHAN
from chalicelib.domain.calendar import IST
from chalicelib.domain.instrument import Broker as DomainBroker
from chalicelib.domain.instrument import ContractKey, Instrument
from chalicelib.domain.symbols import dhan_exchange_segment
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
    "TRANSIT": OrderStatus.PENDING,
    "PENDING": OrderStatus.OPEN,
    "PART_TRADED": OrderStatus.OPEN,
    "TRIGGERED": OrderStatus.OPEN,
    "TRADED": OrderStatus.COMPLETE,
    "REJECTED": OrderStatus.REJECTED,
    "CANCELLED": OrderStatus.CANCELLED,
    "EXPIRED": OrderStatus.CANCELLED,
}
PRODUCTS = {Product.MIS: "INTRADAY", Product.NRML: "MARGIN"}
PRODUCT_BACK = {"INTRADAY": Product.MIS, "MARGIN": Product.NRML}
ORDER_TYPES = {OrderType.LIMIT: "LIMIT", OrderType.SL_LIMIT: "STOP_LOSS"}
STOP_ORDER_TYPES = frozenset({"STOP_LOSS", "STOP_LOSS_MARKET"})


def _fault(body: Mapping[str, Any]) -> Fault:
    message = text_of(body.get("errorMessage") or body.get("message"))
    return Fault(message, text_of(body.get("errorCode")) or None)


#: ``{"errorType", "errorCode": "DH-9xx", "errorMessage"}``; an ``errorCode`` on a 2xx fails too.
ERRORS = ErrorTable(
    failed=lambda body: bool(body.get("errorCode")),
    read=_fault,
    rules=(
        Rule(RateLimited, statuses={429}, codes={"DH-904"}),
        IP_REFUSED,
        Rule(AuthExpired, statuses={401}, codes={"DH-901", "DH-902", "DH-903"}),
        SERVER_ERROR,
        Rule(Unavailable, codes={"DH-908"}, retryable=False),
        Rule(Unavailable, codes={"DH-909"}, retryable=True),
        Rule(Rejected, codes={"DH-906"}),
        Rule(OrderNotFound, statuses={404}, words=("not found",)),
    ),
)


class DhanBroker(HttpBroker):
    name = DHAN.name
    default_hosts: Mapping[str, str] = {
        "api": "https://api.dhan.co",
        "auth": "https://auth.dhan.co",
        "master": "https://images.dhan.co",
    }
    errors = ERRORS

    def _app_headers(self) -> dict[str, str]:
        creds = self.config.credentials
        return {"app_id": creds.api_key, "app_secret": creds.api_secret}

    def login_url(self, state: str) -> str:
        """Generate a consent (one POST to auth.dhan.co) and return its browser login page."""
        creds = self.config.credentials
        body = self._call(
            "POST",
            "auth",
            "/app/generate-consent",
            idempotent=False,
            headers=self._app_headers(),
            params={"client_id": creds.client_id},
        )
        query = urlencode({"consentAppId": body["consentAppId"]})
        return f"{self.hosts['auth']}/login/consentApp-login?{query}"

    def exchange_code(self, code: str) -> Session:
        issued = self.config.now()
        body = self._call(
            "GET",
            "auth",
            "/app/consumeApp-consent",
            idempotent=False,
            headers=self._app_headers(),
            params={"tokenId": code},
        )
        told = body.get("expiryTime")
        expiry = datetime.fromisoformat(told).replace(tzinfo=IST) if told else None
        return Session(
            broker=self.name,
            access_token=str(body["accessToken"]),
            expires_at=session_expiry(self.name, issued, broker_expiry=expiry),
            user_id=str(body.get("dhanClientId") or self.config.credentials.client_id),
        )

    def _headers(self) -> dict[str, str]:
        return {
            "access-token": self.session.access_token,
            "client-id": self.config.credentials.client_id,
            "Accept": "application/json",
        }

    # ----------------------------------------------------------------- orders
    def _place_call(self, request: OrderRequest) -> PlaceCall:
        payload = self._order_fields(request)
        return PlaceCall("POST", "api", "/v2/orders", {"headers": self._headers(), "json": payload})

    def _order_fields(self, request: OrderRequest) -> dict[str, Any]:
        """The placement's fields (the basket margin reuses its contract and enums)."""
        ref = broker_ref(request.instrument, DomainBroker.DHAN, self.name)
        return {
            "dhanClientId": self.config.credentials.client_id,
            "correlationId": request.tag,
            "transactionType": str(request.side),
            "exchangeSegment": dhan_exchange_segment(request.instrument.exchange),
            "productType": PRODUCTS[request.product],
            "orderType": ORDER_TYPES[request.order_type],
            "validity": "DAY",
            "securityId": ref.token,
            "quantity": request.quantity,
            "disclosedQuantity": 0,
            "price": price_number(request.price),
            "triggerPrice": price_number(request.trigger),
            "afterMarketOrder": False,
        }

    def _place_ack(self, body: Any, request: OrderRequest) -> OrderAck:
        return OrderAck(str(body["orderId"]), tag=request.tag)

    def _cancel(self, order_id: str) -> OrderAck:
        body = self._call(
            "DELETE", "api", f"/v2/orders/{order_id}", idempotent=False, headers=self._headers()
        )
        return OrderAck(str((body or {}).get("orderId") or order_id))

    def _modify(self, order_id: str, change: Modification, request: OrderRequest) -> OrderAck:
        body = self._call(
            "PUT",
            "api",
            f"/v2/orders/{order_id}",
            idempotent=False,
            headers=self._headers(),
            json={
                "dhanClientId": self.config.credentials.client_id,
                "orderId": order_id,
                "orderType": ORDER_TYPES[change.order_type or request.order_type],
                "legName": "ENTRY_LEG",
                "quantity": change.quantity or request.quantity,
                "price": price_number(change.price or request.price),
                "disclosedQuantity": 0,
                "triggerPrice": price_number(change.trigger or request.trigger),
                "validity": "DAY",
            },
        )
        return OrderAck(str((body or {}).get("orderId") or order_id))

    def status(self, order_id: str) -> OrderState:
        body = self._call(
            "GET", "api", f"/v2/orders/{order_id}", idempotent=True, headers=self._headers()
        )
        rows = body if isinstance(body, list) else [body]
        if not rows or not rows[0]:
            raise OrderNotFound(f"order {order_id} not found", broker=self.name)
        return self._state(rows[0])

    def find_by_tag(self, tag: str) -> Sequence[OrderState]:
        """Dhan looks orders up by correlation id directly."""
        try:
            body = self._call(
                "GET",
                "api",
                f"/v2/orders/external/{tag}",
                idempotent=True,
                headers=self._headers(),
            )
        except OrderNotFound:
            return []
        rows = body if isinstance(body, list) else [body] if body else []
        return [self._state(row) for row in rows if row]

    def order_book(self) -> Sequence[OrderState]:
        body = self._call("GET", "api", "/v2/orders", idempotent=True, headers=self._headers())
        return [self._state(row) for row in body or []]

    def _state(self, row: Mapping[str, Any]) -> OrderState:
        raw = str(row.get("orderStatus") or "")
        side = str(row.get("transactionType") or "")
        status = map_status(STATUSES, raw, self.name)
        if (
            raw.strip().upper() == "PENDING"
            and str(row.get("orderType") or "").upper() in STOP_ORDER_TYPES
            and not whole(row.get("filledQty"))
        ):
            status = OrderStatus.TRIGGER_PENDING
        return OrderState(
            order_id=str(row["orderId"]),
            status=status,
            quantity=whole(row.get("quantity")),
            filled_quantity=whole(row.get("filledQty")),
            average_price=decimal_or_none(row.get("averageTradedPrice")),
            tag=str(row.get("correlationId") or ""),
            symbol=str(row.get("tradingSymbol") or ""),
            side=Side(side) if side in ("BUY", "SELL") else None,
            message=str(row.get("omsErrorDescription") or ""),
            broker_status=raw,
        )

    # ----------------------------------------------------------------- portfolio / data
    def positions(self) -> Sequence[Position]:
        body = self._call("GET", "api", "/v2/positions", idempotent=True, headers=self._headers())
        return [
            Position(
                symbol=str(row.get("tradingSymbol") or ""),
                product=product_from(row.get("productType"), PRODUCT_BACK),
                net_quantity=whole(row.get("netQty")),
                average_price=decimal_or_none(row.get("costPrice") or row.get("buyAvg")),
                exchange=str(row.get("exchangeSegment") or ""),
            )
            for row in body or []
        ]

    def basket_margin(self, requests: Sequence[OrderRequest]) -> Decimal:
        """``POST /v2/margincalculator/multi``: ``totalMargin`` with the hedge benefit."""
        scrips = [
            pick(
                self._order_fields(r),
                "exchangeSegment", "transactionType", "quantity", "productType", "securityId",
                "price", "triggerPrice",
            )
            for r in requests
        ]  # fmt: skip
        body = self._call(
            "POST", "api", "/v2/margincalculator/multi", idempotent=True,
            headers=self._headers(),
            json={"includePosition": True, "includeOrder": True, "scripList": scrips},
        )  # fmt: skip
        return rupees(body.get("totalMargin"), self.name, "totalMargin")

    def funds(self) -> Decimal:
        """``GET /v2/fundlimit``: ``availabelBalance`` (sic: Dhan's spelling)."""
        body = self._call("GET", "api", "/v2/fundlimit", idempotent=True, headers=self._headers())
        return rupees(body.get("availabelBalance"), self.name, "availabelBalance")

    def quotes(self, instruments: Sequence[Instrument]) -> Mapping[ContractKey, Decimal]:
        keys: dict[tuple[str, str], ContractKey] = {}
        request: dict[str, list[int]] = {}
        for i in instruments:
            segment = dhan_exchange_segment(i.exchange)
            token = broker_ref(i, DomainBroker.DHAN, self.name).token
            keys[(segment, token)] = i.key
            request.setdefault(segment, []).append(int(token))
        if not request:
            return {}
        body = self._call(
            "POST",
            "api",
            "/v2/marketfeed/ltp",
            idempotent=True,
            headers=self._headers(),
            json=request,
        )
        result = {}
        for segment, rows in ((body or {}).get("data") or {}).items():
            for token, row in rows.items():
                key = keys.get((segment, str(token)))
                price = decimal_or_none(row.get("last_price"))
                if key is not None and price is not None:
                    result[key] = price
        return result

    def instruments(self) -> bytes:
        return self._master("master", "/api-data/api-scrip-master.csv")
