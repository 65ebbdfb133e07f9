"""A trader at a fixed slot: the fake brokers and the engine share one injected clock, so the
tests pass at any date and hour (the sim exchange's time is the slot's, never the machine's).

Used by the fault matrix and the lifecycle tests (import the ``*_fixture`` functions): a user with a Kite and a Shoonya account logged
in through the API, a strategy due on Wednesday 2026-11-25 at 09:20 (exit 15:15), and helpers to
plan, fire, restart (a new container: a new process) and compare the platform with the brokers.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from chalicelib.adapters.dynamo.models import OrderItem, SessionItem
from chalicelib.container import Container, use_container
from chalicelib.domain.calendar import IST
from chalicelib.services.clock import ShiftedClock
from chalicelib.services.closing import canonical_symbol
from chalicelib.services.planner import PlannedExecution
from sim.exchange import SimExchange
from sim.servers import adapter_hosts, start_fake_broker
from tests.factories import four_leg_strategy
from tests.integration.conftest import Api, broker_login, sign_up

SLOT = datetime(2026, 11, 25, 9, 20, tzinfo=IST)  # a Wednesday and a trading day
EXIT_SLOT = datetime(2026, 11, 25, 15, 15, tzinfo=IST)


class Crash(BaseException):
    """A process death at a lifecycle step: escapes every ``except Exception`` isolation."""


def crash_at(step: str, nth: int = 1) -> Any:
    """A checkpoint that kills the "process" the ``nth`` time ``step`` is reached."""
    seen = Counter[str]()

    def checkpoint(reached: str, order: OrderItem) -> None:
        seen[reached] += 1
        if reached == step and seen[reached] == nth:
            raise Crash(f"crash at {step} ({order.tag})")

    return checkpoint


@dataclass
class Trader:
    api: Api
    uid: str
    strategy_id: str
    accounts: dict[str, str]  # broker -> account id
    client_ids: dict[str, str]  # account id -> the broker's client id (exchange account)
    clock: ShiftedClock
    exchange: SimExchange
    settings: Any
    engine: Container
    servers: dict[str, Any]

    def restart(self) -> Container:
        """A new process: a fresh container (no firer, settlement or cache state survives)."""
        self.engine = Container(self.settings, clock=self.clock)
        use_container(self.engine)
        return self.engine

    def plan(self, slot: datetime, lead: timedelta = timedelta(seconds=20)) -> PlannedExecution:
        """Plan ``slot`` from ``lead`` before it (the scheduler starts the tick at T-1 min)."""
        self.clock.set(slot - lead)
        plan = self.engine.planner.plan(slot)
        [mine] = [e for e in plan.executions if e.uid == self.uid]
        return mine

    def at(self, moment: datetime) -> None:
        self.clock.set(moment)

    def orders(self) -> list[OrderItem]:
        return self.engine.executions.orders_on(self.uid, SLOT.date().isoformat())

    def platform_positions(self) -> dict[tuple[str, str], int]:
        held = self.engine.executions.positions(self.uid, consistent=True)
        return {(p.account_id, p.symbol): int(p.net_quantity) for p in held if p.net_quantity}

    def broker_positions(self) -> dict[tuple[str, str], int]:
        held = {}
        for account_id, client_id in self.client_ids.items():
            for p in self.exchange.positions(client_id):
                if p.quantity:
                    held[(account_id, canonical_symbol(p.key))] = p.quantity
        return held

    def broker_tags(self) -> Counter[tuple[str, str]]:
        """How many orders carry each (account, tag) at the brokers (each must be at most 1)."""
        return Counter(
            (client_id, o.tag)
            for client_id in self.client_ids.values()
            for o in self.exchange.orders(client_id)
        )


@pytest.fixture(name="slot_clock")
def slot_clock_fixture(platform_clock: ShiftedClock) -> ShiftedClock:
    """The platform's one clock (record stamps, exchange, engine), moved to the slot."""
    platform_clock.set(SLOT - timedelta(seconds=20))
    return platform_clock


@pytest.fixture(name="slot_fakes")
def slot_fakes_fixture(settings, container, slot_clock) -> Iterator[dict[str, Any]]:
    """Kite and Noren fake brokers over an exchange on the slot clock, and an engine on it."""
    exchange = SimExchange(seed=11, clock=slot_clock)
    servers = {d: start_fake_broker(d, exchange) for d in ("kite", "noren")}
    hosts = {
        "zerodha": adapter_hosts("kite", servers["kite"]),
        "shoonya": adapter_hosts("noren", servers["noren"]),
    }
    engine = Container(dataclasses.replace(settings, broker_hosts=hosts), clock=slot_clock)
    use_container(engine)
    try:
        yield {"servers": servers, "settings": engine.settings, "container": engine,
               "exchange": exchange}  # fmt: skip
    finally:
        use_container(container)
        for server in servers.values():
            server.stop()


@pytest.fixture(name="trader")
def trader_fixture(client, slot_fakes, slot_clock) -> Trader:
    """A user with a Kite and a Shoonya account and a four-leg strategy (no stops: the matrix
    compares positions, not the risk engine) that may enter up to 120 s late."""
    api, uid = sign_up(client)
    accounts, client_ids = {}, {}
    for broker, prefix in (("zerodha", "ZE"), ("shoonya", "SH")):
        client_id = f"{prefix}{uid[:6].upper()}"
        account, query = broker_login(api, slot_fakes, broker, client_id)
        assert client.http.get(f"/brokers/{broker}/callback?{query}").status_code == 200
        session = SessionItem.get(*SessionItem.key(uid, account["id"]))
        session.update(
            actions=[SessionItem.expires_at.set((SLOT + timedelta(hours=8)).isoformat())]
        )
        accounts[broker] = account["id"]
        client_ids[account["id"]] = client_id
    summary = slot_fakes["container"].instruments.refresh()  # the slot day's masters (tokens)
    assert summary["contracts"], summary
    basket = api.call("POST", "/baskets", {"name": "matrix"}).data["id"]
    body = four_leg_strategy(basket, accounts["zerodha"], accounts["shoonya"])
    body["entry"] = {"time": "09:20:00", "days": ["WED"]}
    body["risk"] = {"on_leg_failure": "UNWIND"}
    body["max_entry_delay_seconds"] = 120
    for leg in body["legs"]:
        leg.pop("stop_loss", None)
    created = api.call("POST", "/strategies", body)
    assert created.status_code == 201, created.body
    return Trader(
        api, uid, created.data["id"], accounts, client_ids, slot_clock,
        slot_fakes["exchange"], slot_fakes["settings"], slot_fakes["container"],
        slot_fakes["servers"],
    )  # fmt: skip
