"""A settlement world in memory: the fake execution store, one scripted broker per account, the
real closer and settlement over them, and a clock that only moves when the test moves it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from chalicelib.domain import order_lifecycle as lc
from chalicelib.domain.calendar import IST
from chalicelib.domain.instrument import ContractKey
from chalicelib.domain.market_model import MarketModel
from chalicelib.domain.underlying import OptionType, Underlying
from chalicelib.ports.broker import Side
from chalicelib.services.closing import BrokerLtp, canonical_symbol
from chalicelib.services.exits import PositionCloser
from chalicelib.services.order_builder import ChildOrder
from chalicelib.services.order_sender import stamp
from chalicelib.services.settlement import Backoff, Settlement
from tests.fakes.executions import InMemoryExecutions, execution_sk, order_sk
from tests.fakes.records import Execution, Order, Strategy
from tests.fakes.settlement import Accounts, ScriptedBroker

UID = "u1"
STRATEGY = "s1"
DAY = "2026-12-01"  # a Tuesday, a trading day
SLOT = datetime(2026, 12, 1, 9, 20, tzinfo=IST)
CE = ContractKey(Underlying.NIFTY, date(2026, 12, 8), Decimal("26000"), OptionType.CE)
PE = ContractKey(Underlying.NIFTY, date(2026, 12, 8), Decimal("25000"), OptionType.PE)
LOT = 65


@dataclass
class Clock:
    now: datetime = SLOT

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Ticker:
    """The monotonic clock of settlement's poll loop: advanced by its own ``sleep``."""

    at: float = 0.0
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.at

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.at += seconds


@dataclass
class World:
    clock: Clock = field(default_factory=Clock)
    ticker: Ticker = field(default_factory=Ticker)
    store: InMemoryExecutions = field(default_factory=InMemoryExecutions)
    brokers: dict[str, ScriptedBroker] = field(
        default_factory=lambda: {"A1": ScriptedBroker(), "A2": ScriptedBroker()}
    )
    market: MarketModel = field(default_factory=MarketModel)
    crash_at: str | None = None

    def __post_init__(self) -> None:
        self.store._stamp = lambda: stamp(self.clock())
        for broker in self.brokers.values():
            broker.prices.update({CE: Decimal("100"), PE: Decimal("80")})
        self.closer = PositionCloser(
            self.store, Accounts(self.brokers), self.market, BrokerLtp(), self.clock
        )

    def settlement(self, **options: Any) -> Settlement:
        options.setdefault("backoff", Backoff(first=0.25, factor=2, cap=1, deadline=3))
        return Settlement(
            self.store, self.store, self.closer, self.clock,
            sleep=self.ticker.sleep, monotonic=self.ticker, checkpoint=self._checkpoint, **options,
        )  # fmt: skip

    def _checkpoint(self, step: str, order: Any) -> None:
        if step == self.crash_at:
            raise Crash(step)

    # -- records ----------------------------------------------------------------------------------
    def execution(self, phase: str = "ENTRY", status: str = "SENT", **fields: Any) -> Execution:
        return self.store.add_execution(
            Execution(
                sk=execution_sk(DAY, STRATEGY, phase), uid=UID, strategy_id=STRATEGY,
                phase=phase, trade_date=DAY, slot=stamp(SLOT), status=status, owner="clock",
                **fields,
            )
        )  # fmt: skip

    def order(
        self,
        order_id: str,
        *,
        side: str = "SELL",
        lots: int = 1,
        key: ContractKey = CE,
        account: str = "A1",
        phase: str = "ENTRY",
        status: str = lc.OPEN,
        broker_order_id: str | None = None,
        **fields: Any,
    ) -> Order:
        tag = fields.pop("tag", f"T{order_id}")
        child = ChildOrder(
            account_id=account, broker="zerodha", leg=0, slice_no=0, side=side, key=key,
            exchange="NFO", lot_size=LOT, tick_size=Decimal("0.05"), quantity=lots * LOT,
            limit_price=Decimal("100"), product="MIS", tag=tag,
        )  # fmt: skip
        execution = fields.pop("execution", execution_sk(DAY, STRATEGY, phase))
        return self.store.add_order(
            Order(
                sk=order_sk(DAY, order_id), uid=UID, order_id=order_id, execution=execution,
                strategy_id=STRATEGY, phase=phase, account_id=account, broker="zerodha", tag=tag,
                request=child.to_dict(), status=status, scheduled_at=stamp(SLOT),
                broker_order_id=broker_order_id, history=[], **fields,
            )
        )  # fmt: skip

    def placed_at_broker(self, order: Order, *, filled: int = 0, price: str | None = None) -> str:
        """The order is in the account's book (it reached the broker)."""
        side = Side(order.request["side"])
        broker = self.brokers[order.account_id]
        return broker.add(order.tag, int(order.request["quantity"]), side=side, filled=filled,
                          price=price, order_id=order.broker_order_id)  # fmt: skip

    def policy(self, on_leg_failure: str) -> None:
        self.store.strategies[(UID, STRATEGY)] = Strategy(
            sk=f"STRATEGY#{STRATEGY}", uid=UID, strategy_id=STRATEGY, basket_id="b1",
            status="ACTIVE", spec={"risk": {"on_leg_failure": on_leg_failure}},
        )  # fmt: skip

    def net(self, key: ContractKey = CE, account: str = "A1") -> int:
        held = [p for p in self.store.positions(UID, STRATEGY)
                if p.account_id == account and p.symbol == canonical_symbol(key)]  # fmt: skip
        return sum(p.net_quantity for p in held)

    def stored(self, order: Order) -> Order:
        return self.store.stored_order(UID, order.sk)

    def events(self, phase: str = "ENTRY") -> list[dict[str, Any]]:
        return self.store.events_of(UID, execution_sk(DAY, STRATEGY, phase))


class Crash(Exception):
    """The process died at a checkpoint."""
