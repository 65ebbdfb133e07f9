"""Fyers API v3.

Dialect: ``Authorization: <app_id>:<access_token>``, JSON bodies, replies ``{"s": "ok"|"error",
"code": <int>, "message": ...}``. Order fields are numeric enums: type 1 LIMIT / 4 SL-LIMIT, side
1 buy / -1 sell; statuses 1 cancelled, 2 traded, 4 transit, 5 rejected, 6 pending, 7 expired.
Token exchange sends ``appIdHash = sha256("<app_id>:<app_secret>")``.

Fyers has no trigger-pending status: a stop order waiting for its trigger is "6 pending" like a
resting limit. The adapter reports TRIGGER_PENDING for a pending stop (type 3 / 4) with nothing
filled whose row's last price (``lp``) has not reached the stop; once ``lp`` is at or through the
stop the exchange has triggered it, so it is OPEN. (A stop that triggered and saw the price come
back before filling reads TRIGGER_PENDING: the book does not say more.)
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
from chalicelib.adapters.brokers.http_client import join_csv
from chalicelib.adapters.brokers.placement import PlaceCall
from chalicelib.adapters.brokers.session_expiry import session_expiry
from chalicelib.domain.brokers import FYERS
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
from chalicelib.ports.broker_errors import AuthExpired, OrderNotFound, RateLimited, Rejected

STATUSES: Mapping[int, OrderStatus] = {
    1: OrderStatus.CANCELLED,
    2: OrderStatus.COMPLETE,
    3: OrderStatus.PENDING,
    4: OrderStatus.PENDING,
    5: OrderStatus.REJECTED,
    6: OrderStatus.OPEN,
    7: OrderStatus.CANCELLED,
}
ORDER_TYPES = {OrderType.LIMIT: 1, OrderType.SL_LIMIT: 4}
#: Fyers order types that wait for a trigger: 3 SL-M, 4 SL-L.
STOP_TYPES = frozenset({3, 4})
SIDES = {Side.BUY: 1, Side.SELL: -1}
PRODUCTS = {Product.MIS: "INTRADAY", Product.NRML: "MARGIN"}
PRODUCT_BACK = {"INTRADAY": Product.MIS, "MARGIN": Product.NRML}
#: ``{"s": "error", "code": -16, "message": ...}``; the numeric code is kept as its text ("-16").
ERRORS = ErrorTable(
    failed=lambda body: body.get("s") == "error",
    read=lambda body: Fault(text_of(body.get("message")), str(whole(body.get("code")))),
    rules=(
        Rule(RateLimited, statuses={429}, codes={"-429", "429"}),
        IP_REFUSED,
        Rule(AuthExpired, statuses={401}, codes={"-8", "-15", "-16", "-17"}),
        SERVER_ERROR,
        Rule(OrderNotFound, codes={"-51", "-352"}),
        Rule(Rejected, codes={"-99", "-392"}, words=("rms",)),
    ),
)


def fyers_app_id_hash(app_id: str, app_secret: str) -> str:
    """``appIdHash``: hex sha256 of "<app_id>:<app_secret>"."""
    return hashlib.sha256(f"{app_id}:{app_secret}".encode()).hexdigest()


def awaiting_trigger(row: Mapping[str, Any], side: Side | None) -> bool:
    """Whether a pending row is a stop still waiting for its trigger (see the module docstring)."""
    if whole(row.get("type")) not in STOP_TYPES or whole(row.get("filledQty")):
        return False
    stop, last = decimal_or_none(row.get("stopPrice")), decimal_or_none(row.get("lp"))
    if stop is None or last is None or side is None:
        return True
    return last < stop if side is Side.BUY else last > stop


class FyersBroker(HttpBroker):
    name = FYERS.name
    default_hosts: Mapping[str, str] = {
        "api": "https://api-t1.fyers.in/api/v3",
        "data": "https://api-t1.fyers.in/data",
        "master": "https://public.fyers.in",
    }
    errors = ERRORS

    def login_url(self, state: str) -> str:
        creds = self.config.credentials
        query = urlencode(
            {
                "client_id": creds.api_key,
                "redirect_uri": creds.redirect_url,
                "response_type": "code",
                "state": state,
            }
        )
        return f"{self.hosts['api']}/generate-authcode?{query}"

    def exchange_code(self, code: str) -> Session:
        creds = self.config.credentials
        issued = self.config.now()
        data = self._call(
            "POST",
            "api",
            "/validate-authcode",
            idempotent=False,
            json={
                "grant_type": "authorization_code",
                "appIdHash": fyers_app_id_hash(creds.api_key, creds.api_secret),
                "code": code,
            },
        )
        return Session(
            broker=self.name,
            access_token=str(data["access_token"]),
            expires_at=session_expiry(self.name, issued),
            user_id=creds.client_id,
        )

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"{self.config.credentials.api_key}:{self.session.access_token}"}

    # ----------------------------------------------------------------- orders
    def _place_call(self, request: OrderRequest) -> PlaceCall:
        payload = self._order_fields(request)
        return PlaceCall(
            "POST", "api", "/orders/sync", {"headers": self._headers(), "json": payload}
        )

    def _order_fields(self, request: OrderRequest) -> dict[str, Any]:
        """The placement's fields (the basket margin reuses its contract and enums)."""
        return {
            "symbol": broker_ref(request.instrument, DomainBroker.FYERS, self.name).symbol,
            "qty": request.quantity,
            "type": ORDER_TYPES[request.order_type],
            "side": SIDES[request.side],
            "productType": PRODUCTS[request.product],
            "limitPrice": price_number(request.price),
            "stopPrice": price_number(request.trigger),
            "validity": "DAY",
            "disclosedQty": 0,
            "offlineOrder": False,
            "orderTag": request.tag,
        }

    def _place_ack(self, body: Any, request: OrderRequest) -> OrderAck:
        return OrderAck(str(body["id"]), tag=request.tag)

    def _cancel(self, order_id: str) -> OrderAck:
        body = self._call(
            "DELETE",
            "api",
            "/orders/sync",
            idempotent=False,
            headers=self._headers(),
            json={"id": order_id},
        )
        return OrderAck(str(body.get("id") or order_id))

    def _modify(self, order_id: str, change: Modification, request: OrderRequest) -> OrderAck:
        body = self._call(
            "PATCH",
            "api",
            "/orders/sync",
            idempotent=False,
            headers=self._headers(),
            json={
                "id": order_id,
                "type": ORDER_TYPES[change.order_type or request.order_type],
                "qty": change.quantity or request.quantity,
                "limitPrice": price_number(change.price or request.price),
                "stopPrice": price_number(change.trigger or request.trigger),
            },
        )
        return OrderAck(str(body.get("id") or order_id))

    def status(self, order_id: str) -> OrderState:
        body = self._call(
            "GET",
            "api",
            "/orders",
            idempotent=True,
            headers=self._headers(),
            params={"id": order_id},
        )
        for row in body.get("orderBook") or []:
            if str(row.get("id")) == order_id:
                return self._state(row)
        raise OrderNotFound(f"order {order_id} is not in the order book", broker=self.name)

    def order_book(self) -> Sequence[OrderState]:
        body = self._call("GET", "api", "/orders", idempotent=True, headers=self._headers())
        return [self._state(row) for row in body.get("orderBook") or []]

    def _state(self, row: Mapping[str, Any]) -> OrderState:
        raw = whole(row.get("status"))
        side = {1: Side.BUY, -1: Side.SELL}.get(whole(row.get("side")))
        status = STATUSES.get(raw, OrderStatus.PENDING)
        if status is OrderStatus.OPEN and awaiting_trigger(row, side):
            status = OrderStatus.TRIGGER_PENDING
        return OrderState(
            order_id=str(row["id"]),
            status=status,
            quantity=whole(row.get("qty")),
            filled_quantity=whole(row.get("filledQty")),
            average_price=decimal_or_none(row.get("tradedPrice")),
            tag=str(row.get("orderTag") or ""),
            symbol=str(row.get("symbol") or ""),
            side=side,
            message=str(row.get("message") or ""),
            broker_status=str(raw),
        )

    # ----------------------------------------------------------------- portfolio / data
    def positions(self) -> Sequence[Position]:
        body = self._call("GET", "api", "/positions", idempotent=True, headers=self._headers())
        return [
            Position(
                symbol=str(row.get("symbol") or ""),
                product=product_from(row.get("productType"), PRODUCT_BACK),
                net_quantity=whole(row.get("netQty")),
                average_price=decimal_or_none(row.get("netAvg")),
                last_price=decimal_or_none(row.get("ltp")),
                exchange=str(row.get("symbol") or "").partition(":")[0],
            )
            for row in body.get("netPositions") or []
        ]

    def basket_margin(self, requests: Sequence[OrderRequest]) -> Decimal:
        """``POST /multiorder/margin``: ``data.margin_new_order`` for the orders together."""
        orders = [
            {
                **pick(
                    self._order_fields(r),
                    "symbol", "qty", "side", "type", "productType", "limitPrice", "stopPrice",
                ),
                "stopLoss": 0.0,
                "takeProfit": 0.0,
            }
            for r in requests
        ]  # fmt: skip
        body = self._call(
            "POST", "api", "/multiorder/margin", idempotent=True, headers=self._headers(),
            json={"data": orders},
        )  # fmt: skip
        data = body.get("data") or {}
        return rupees(data.get("margin_new_order"), self.name, "margin_new_order")

    def funds(self) -> Decimal:
        """``GET /funds``: the ``Available Balance`` row (id 10) of ``fund_limit``."""
        body = self._call("GET", "api", "/funds", idempotent=True, headers=self._headers())
        rows = [r for r in body.get("fund_limit") or [] if r.get("id") == 10]
        return rupees(rows[0].get("equityAmount") if rows else None, self.name, "fund_limit")

    def quotes(self, instruments: Sequence[Instrument]) -> Mapping[ContractKey, Decimal]:
        keys = {broker_ref(i, DomainBroker.FYERS, self.name).symbol: i.key for i in instruments}
        if not keys:
            return {}
        body = self._call(
            "GET",
            "data",
            "/quotes",
            idempotent=True,
            headers=self._headers(),
            params={"symbols": ",".join(keys)},
        )
        result = {}
        for row in body.get("d") or []:
            key = keys.get(str(row.get("n")))
            price = decimal_or_none((row.get("v") or {}).get("lp"))
            if key is not None and price is not None:
                result[key] = price
        return result

    def instruments(self) -> bytes:
        """NSE_FO and BSE_FO symbol masters (headerless CSVs) joined."""
        nse = self._master("master", "/sym_details/NSE_FO.csv")
        bse = self._master("master", "/sym_details/BSE_FO.csv")
        return join_csv(nse, bse, header=False)
