"""Builders for broker adapter tests: a contract with every dialect's refs, a scripted
MockTransport, and adapters wired with no-op sleeps and a fixed IST clock."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from chalicelib.adapters.brokers.base import HttpBroker
from chalicelib.adapters.brokers.config import AdapterConfig
from chalicelib.adapters.brokers.retry import make_retrying
from chalicelib.domain.instrument import Broker, BrokerRef, ContractKey, Instrument
from chalicelib.domain.underlying import Exchange, OptionType, Underlying
from chalicelib.ports.broker import (
    Credentials,
    OrderRequest,
    OrderType,
    Product,
    Session,
    Side,
)

IST = ZoneInfo("Asia/Kolkata")
NOW = datetime(2026, 11, 16, 9, 20, tzinfo=IST)
EXPIRY = date(2026, 11, 17)

INSTRUMENT = Instrument(
    key=ContractKey(Underlying.NIFTY, EXPIRY, Decimal(23950), OptionType.CE),
    exchange=Exchange.NFO,
    lot_size=65,
    tick_size=Decimal("0.05"),
    refs={
        Broker.KITE: BrokerRef("NIFTY26N1723950CE", "12345"),
        Broker.FYERS: BrokerRef("NSE:NIFTY26N1723950CE", "1011261117123"),
        Broker.ANGEL: BrokerRef("NIFTY17NOV2623950CE", "45450"),
        Broker.NOREN: BrokerRef("NIFTY17NOV26C23950", "45450"),
        Broker.UPSTOX: BrokerRef("NIFTY 23950 CE 17 NOV 26", "45450"),
        Broker.DHAN: BrokerRef("NIFTY-Nov2026-23950-CE", "45450"),
    },
)


def order(
    *,
    side: Side = Side.BUY,
    quantity: int = 130,
    order_type: OrderType = OrderType.LIMIT,
    price: str = "101.15",
    trigger: str | None = None,
    tag: str = "S1L1E0",
    product: Product = Product.MIS,
) -> OrderRequest:
    return OrderRequest(
        instrument=INSTRUMENT,
        side=side,
        quantity=quantity,
        product=product,
        order_type=order_type,
        price=Decimal(price),
        trigger=Decimal(trigger) if trigger else None,
        tag=tag,
    )


#: A stop-loss SELL leg (SL-LIMIT at 90.05, trigger 90.00) for the dialects' order mapping.
SL_SELL = {
    "side": Side.SELL,
    "order_type": OrderType.SL_LIMIT,
    "price": "90.05",
    "trigger": "90.00",
}


Reply = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


@dataclass
class Script:
    """Replies per (METHOD, path), consumed in order (the last one repeats); records requests."""

    routes: dict[tuple[str, str], list[Reply]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def on(self, method: str, path: str, *replies: Reply) -> Script:
        self.routes.setdefault((method, path), []).extend(replies)
        return self

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        key = (request.method, request.url.path)
        if key not in self.routes:
            return httpx.Response(404, json={"message": f"no route {key}"})
        queue = self.routes[key]
        reply = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(reply, Exception):
            raise reply
        if callable(reply) and not isinstance(reply, httpx.Response):
            return reply(request)
        return reply

    def calls(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if (r.method, r.url.path) == (method, path)]

    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests]


def ok(payload: Any, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=payload)


def text(status: int, body: str) -> httpx.Response:
    return httpx.Response(status, text=body)


def form(request: httpx.Request) -> dict[str, str]:
    from urllib.parse import parse_qsl

    return dict(parse_qsl(request.content.decode()))


def body(request: httpx.Request) -> Any:
    return json.loads(request.content)


class CountingLimiter:
    def __init__(self) -> None:
        self.accounts: list[str] = []

    def acquire(self, account: str) -> float:
        self.accounts.append(account)
        return 0.0


CREDENTIALS = Credentials(
    api_key="kitekey",
    api_secret="kitesecret",
    client_id="AB1234",
    redirect_url="http://127.0.0.1:8000/callback",
    extra={"pin": "1234", "vendor_code": "AB1234_U", "app_id": "APPID-100"},
)


def build(
    cls: type[HttpBroker],
    script: Script,
    *,
    session: bool = True,
    limiter: Any = None,
    place_attempts: int = 2,
    now: datetime = NOW,
    credentials: Credentials = CREDENTIALS,
    hosts: dict[str, str] | None = None,
) -> HttpBroker:
    sleeps: list[float] = []
    config = AdapterConfig(
        credentials=credentials,
        client=httpx.Client(transport=httpx.MockTransport(script)),
        retrying=make_retrying(sleep=sleeps.append),
        account="acct-1",
        session=Session(cls.name, "tok123", datetime(2026, 11, 17, 6, tzinfo=IST), "AB1234")
        if session
        else None,
        hosts=hosts or {},
        limiter=limiter,
        now=lambda: now,
        sleep=sleeps.append,
        place_attempts=place_attempts,
    )
    adapter = cls(config)
    adapter.sleeps = sleeps  # type: ignore[attr-defined]
    return adapter
