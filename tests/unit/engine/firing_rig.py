"""A firer on in-memory ports: the fake execution store, scripted brokers and a virtual clock."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from chalicelib.domain.calendar import IST
from chalicelib.domain.instrument import ContractKey
from chalicelib.domain.market_model import MarketModel
from chalicelib.domain.underlying import OptionType, Underlying
from chalicelib.services.firer import Firer
from chalicelib.services.order_builder import ChildOrder
from tests.fakes.firing import FakeNewOrders, ScriptedBroker
from tests.fakes.firing_store import FiringExecutions
from tests.fakes.records import Execution, Order

T = datetime(2026, 11, 25, 9, 20, tzinfo=IST)  # a Wednesday's entry slot
UID = "u1"
EXPIRY = date(2026, 12, 1)


class Ticker:
    """Monotonic time that moves 0.1 ms at every read and jumps on ``sleep``; the wall clock is
    ``start`` plus the monotonic time, so the firer's wait to T ends without real waiting."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.t = 0.0
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            self.t += 0.0001
            return self.t

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.t += max(0.0, seconds)

    def wall(self) -> datetime:
        with self._lock:
            return self.start + timedelta(seconds=self.t)


def child(account: str, leg: int, side: str, tag: str, strike: str = "24500") -> ChildOrder:
    return ChildOrder(
        account_id=account,
        broker="fake",
        leg=leg,
        slice_no=0,
        side=side,
        key=ContractKey(Underlying.NIFTY, EXPIRY, Decimal(strike), OptionType.CE),
        exchange="NFO",
        lot_size=65,
        tick_size=Decimal("0.05"),
        quantity=65,
        limit_price=Decimal("100.05"),
        product="MIS",
        tag=tag,
    )


@dataclass
class Rig:
    """Orders of one execution on scripted brokers (one per account), fired at ``T``."""

    phase: str = "ENTRY"
    start: datetime = T - timedelta(seconds=2)
    store: FiringExecutions = field(default_factory=FiringExecutions)
    brokers: dict[str, ScriptedBroker] = field(default_factory=dict)
    alerts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    broken_accounts: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.clock = Ticker(self.start)
        self.execution = Execution(
            sk=f"EXEC#{T.date().isoformat()}#s1#{self.phase}", uid=UID, strategy_id="s1",
            phase=self.phase, trade_date=T.date().isoformat(), slot=T.isoformat(),
            status="PLANNED", owner="test",
        )  # fmt: skip
        self.store.add_execution(self.execution)

    def orders(self, *legs: tuple[str, int, str, str], max_delay: int | None = None) -> list[Order]:
        """(account, leg, side, tag) each: stored BUILT, scheduled at T."""
        made = []
        for account, leg, side, tag in legs:
            self.brokers.setdefault(account, ScriptedBroker(name=account))
            order = FakeNewOrders().new_order(
                UID, self.execution.sk, "s1", self.phase, child(account, leg, side, tag), T,
                order_id=tag.lower(),
            )  # fmt: skip
            order.max_delay_seconds = max_delay
            made.append(order)
        self.store.put_orders(made)
        return made

    def adapter_for(self, uid: str, account: str) -> Any:
        if account in self.broken_accounts:
            raise RuntimeError("no session")
        return self.brokers[account]

    def firer(self, **overrides: Any) -> Firer:
        fields: dict[str, Any] = {
            "adapter_for": self.adapter_for,
            "market": MarketModel(),
            "executions": self.store,
            "wall": self.clock.wall,
            "monotonic": self.clock.monotonic,
            "sleep": self.clock.sleep,
            "alert": lambda subject, details: self.alerts.append((subject, details)),
            **overrides,
        }
        return Firer(**fields)

    def status(self, order: Order) -> str:
        return self.store.stored(order).status

    def placed(self) -> list[str]:
        return [tag for broker in self.brokers.values() for tag in broker.placed]

    def events(self) -> list[dict[str, Any]]:
        return self.store.events.get((UID, self.execution.sk), [])
