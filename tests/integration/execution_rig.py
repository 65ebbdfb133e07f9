"""Shared rig for settlement, kill-switch and execution-API tests: a user logged in (through the
API's OAuth flow) to a Zerodha and a Shoonya account on the sim's fake brokers, and helpers that
send real orders through the adapters and record them as order items."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from chalice.test import Client

from chalicelib.adapters.dynamo.models import ExecutionItem, OrderItem
from chalicelib.adapters.dynamo.order_items import order_item
from chalicelib.container import Container
from chalicelib.domain.instrument import Instrument
from chalicelib.domain.money import Rounding, snap_to_tick
from chalicelib.domain.protection import protected_limit_price
from chalicelib.domain.underlying import Underlying
from chalicelib.services.closing import BrokerLtp, unique_tag
from chalicelib.services.exits import PositionCloser
from chalicelib.services.order_builder import ChildOrder
from chalicelib.services.order_sender import send
from chalicelib.services.settlement import Backoff, Settlement
from tests.integration.conftest import Api, broker_login, sign_up

FAST = Backoff(first=0.05, factor=2.0, cap=0.2, deadline=3.0)


@dataclass
class Rig:
    client: Client
    fakes: dict[str, Any]
    api: Api
    uid: str
    zerodha: dict[str, Any]
    shoonya: dict[str, Any]
    strategy_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])

    @property
    def container(self) -> Container:
        return self.fakes["container"]

    @property
    def exchange(self) -> Any:
        return self.fakes["servers"]["kite"].exchange

    def server(self, broker: str) -> Any:
        return self.fakes["servers"]["kite" if broker == "zerodha" else "noren"]

    def account(self, broker: str) -> dict[str, Any]:
        return self.zerodha if broker == "zerodha" else self.shoonya

    def contracts(self, n: int = 2) -> list[Instrument]:
        """``n`` listed NIFTY calls of the nearest expiry, closest to the money first."""
        spot = self.exchange.spot("NIFTY")
        listed = [i for i in self.exchange.instruments() if i.underlying is Underlying.NIFTY]
        expiry = min(i.expiry for i in listed)
        calls = [i for i in listed if i.expiry == expiry and i.option_type == "CE"]
        return sorted(calls, key=lambda i: abs(i.strike - spot))[:n]

    def child(
        self, broker: str, instrument: Instrument, side: str, lots: int = 1, leg: int = 0
    ) -> ChildOrder:
        ltp = self.exchange.ltp(instrument.key)
        today = self.container.clock().date()
        return ChildOrder(
            account_id=self.account(broker)["id"],
            broker=broker,
            leg=leg,
            slice_no=0,
            side=side,
            key=instrument.key,
            exchange=instrument.exchange.value,
            lot_size=instrument.lot_size,
            tick_size=instrument.tick_size,
            quantity=lots * instrument.lot_size,
            limit_price=protected_limit_price(side, ltp, on=today),
            product="MIS",
            tag=unique_tag(self.strategy_id, "ENTRY", leg),
        )

    def resting(self, broker: str, instrument: Instrument, lots: int = 1) -> ChildOrder:
        """A BUY far below the market: acknowledged and left open."""
        order = self.child(broker, instrument, "BUY", lots)
        low = snap_to_tick(
            self.exchange.ltp(instrument.key) * Decimal("0.7"), direction=Rounding.DOWN
        )
        return dataclasses.replace(order, limit_price=low)

    def execution(self, phase: str = "ENTRY", strategy_id: str | None = None) -> ExecutionItem:
        now = self.container.clock()
        item = self.container.executions.open_execution(
            self.uid, now.date().isoformat(), strategy_id or self.strategy_id, phase,
            now.isoformat(), "test",
        )  # fmt: skip
        assert item is not None
        return item

    def send(
        self, execution: ExecutionItem, child: ChildOrder, phase: str | None = None
    ) -> OrderItem:
        c = self.container
        item = order_item(
            self.uid, execution.sk, execution.strategy_id, phase or execution.phase, child,
            self.container.clock(),
        )  # fmt: skip
        adapter = c.broker_access.adapter(self.uid, child.account_id)
        return send(adapter, item, c.market, c.executions, c.clock)

    def closer(self) -> PositionCloser:
        c = self.container
        return PositionCloser(c.executions, c.broker_access, c.market, BrokerLtp(), c.clock)

    def settlement(self, backoff: Backoff = FAST) -> Settlement:
        c = self.container
        return Settlement(c.executions, c.repo, self.closer(), c.clock, backoff=backoff)

    def positions(self, strategy_id: str | None = None) -> dict[tuple[str, str], int]:
        items = self.container.executions.positions(self.uid, strategy_id or self.strategy_id)
        return {(p.account_id, p.symbol): int(p.net_quantity) for p in items}

    def received(self, broker: str, since: int = 0) -> list[Any]:
        return [r for r in self.server(broker).received[since:] if r.method == "POST"]


def make_rig(client: Client, fakes: dict[str, Any]) -> Rig:
    api, uid = sign_up(client)
    suffix = uuid.uuid4().hex[:5].upper()
    accounts = {}
    for broker in ("zerodha", "shoonya"):
        account, query = broker_login(api, fakes, broker, f"{broker[:2].upper()}{suffix}")
        done = client.http.get(f"/brokers/{broker}/callback?{query}")
        assert done.status_code == 200, done.body
        accounts[broker] = account
    return Rig(client, fakes, api, uid, accounts["zerodha"], accounts["shoonya"])
