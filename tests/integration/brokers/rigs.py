"""The per-dialect rig of the behavioural broker suite: a simulated exchange on a manual clock, the
dialect's fake broker server on loopback, and the real adapter logged in to it with a NIFTY ATM
call from the master it downloaded. ``conftest.py`` turns ``open_rig`` into the ``rig`` fixture."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from chalicelib.adapters.brokers.base import HttpBroker
from chalicelib.adapters.brokers.registry import build_broker
from chalicelib.domain import masters
from chalicelib.domain.instrument import Instrument
from chalicelib.domain.money import Rounding, snap_to_tick
from chalicelib.domain.underlying import Underlying
from chalicelib.ports.broker import (
    Credentials,
    OrderRequest,
    OrderState,
    OrderStatus,
    OrderType,
    Product,
    Side,
)

sim_exchange = pytest.importorskip("sim.exchange")
sim_servers = pytest.importorskip("sim.servers")
sim_clock = pytest.importorskip("sim.clock")

START = datetime(2026, 11, 16, 10, 0, tzinfo=sim_clock.ist_now().tzinfo)
CLIENT = "AB1234"
REDIRECT = "http://127.0.0.1:9/callback"
BASE32_SECRET = "JBSWY3DPEHPK3PXP"  # Angel's fake derives the TOTP from the api secret


@dataclass(frozen=True)
class Dialect:
    fake: str
    broker: str
    parse_master: Callable[[bytes], list[Instrument]]


DIALECTS = [
    Dialect("kite", "zerodha", masters.parse_kite_master),
    Dialect("angel", "angelone", masters.parse_angel_master),
    Dialect("dhan", "dhan", masters.parse_dhan_master),
    Dialect("upstox", "upstox", masters.parse_upstox_master),
    Dialect("fyers", "fyers", masters.parse_fyers_master),
    Dialect("noren", "shoonya", masters.parse_noren_master),
]


@dataclass
class Rig:
    dialect: Dialect
    server: Any
    exchange: Any
    clock: Any
    adapter: HttpBroker
    instrument: Instrument

    def request(
        self, *, price_offset: str = "1", side: Side = Side.BUY, tag: str = "T1", lots: int = 1
    ) -> OrderRequest:
        """A LIMIT at LTP * offset (marketable for a BUY when the offset is above 1)."""
        ltp = self.exchange.ltp(self.instrument.key)
        price = snap_to_tick(ltp * Decimal(price_offset), direction=Rounding.UP)
        return OrderRequest(
            self.instrument,
            side,
            lots * self.instrument.lot_size,
            Product.MIS,
            OrderType.LIMIT,
            price,
            tag,
        )


def _follow_login(url: str) -> dict[str, list[str]]:
    response = httpx.get(url, follow_redirects=False, timeout=5)
    assert response.status_code in (302, 303), response.text
    return parse_qs(urlparse(response.headers["location"]).query)


def _log_in(rig_dialect: Dialect, adapter: HttpBroker, clock: Any) -> HttpBroker:
    if rig_dialect.fake == "angel":
        from sim.brokers.angel import totp

        return adapter.with_session(adapter.exchange_code(totp(BASE32_SECRET, clock())))
    query = _follow_login(adapter.login_url("st4te"))
    # Fyers' redirect carries both `code=200` (a status) and `auth_code`: the latter is the code.
    code = next(
        query[k][0] for k in ("request_token", "auth_code", "code", "tokenId") if k in query
    )
    return adapter.with_session(adapter.exchange_code(code))


@contextlib.contextmanager
def open_rig(dialect: Dialect) -> Iterator[Rig]:
    """A logged-in rig for ``dialect``; the fake server stops on exit."""
    clock = sim_clock.ManualClock(START)
    exchange = sim_exchange.SimExchange(seed=7, clock=clock)
    try:
        server = sim_servers.start_fake_broker(dialect.fake, exchange)
    except NotImplementedError as exc:
        pytest.skip(f"fake {dialect.fake} server not built yet: {exc}")
    try:
        server.register_app("apikey1", BASE32_SECRET, CLIENT, REDIRECT)
        creds = Credentials("apikey1", BASE32_SECRET, CLIENT, REDIRECT, {"pin": "1234"})
        adapter = build_broker(
            dialect.broker,
            creds,
            account=CLIENT,
            hosts=sim_servers.adapter_hosts(dialect.fake, server),
            now=clock,
            sleep=lambda s: None,
        )
        adapter = _log_in(dialect, adapter, clock)
        listed = dialect.parse_master(adapter.instruments())
        spot = exchange.spot("NIFTY")
        nifty = [i for i in listed if i.underlying is Underlying.NIFTY and i.expiry >= START.date()]
        expiry = min(i.expiry for i in nifty)
        instrument = min(
            (i for i in nifty if i.expiry == expiry and i.option_type == "CE"),
            key=lambda i: abs(i.strike - spot),
        )
        yield Rig(dialect, server, exchange, clock, adapter, instrument)
    finally:
        server.stop()


def settle(rig: Rig, order_id: str) -> OrderState:
    """The order's state once the broker's in-flight (PENDING) states are past."""
    state = rig.adapter.status(order_id)
    for _ in range(5):
        if state.status is not OrderStatus.PENDING:
            break
        rig.exchange.tick()
        state = rig.adapter.status(order_id)
    return state
