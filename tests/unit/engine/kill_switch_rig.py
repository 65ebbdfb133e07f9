"""A kill switch on in-memory stores, a broker and a settlement around them: the rig of the
kill-switch and day-limit unit tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from chalicelib.domain.calendar import IST
from chalicelib.domain.instrument import ContractKey
from chalicelib.domain.underlying import OptionType, Underlying
from chalicelib.services.kill_switch import KillSwitch
from chalicelib.services.leases import Leases
from tests.fakes.kill_switch import FakeKillSwitchStore, FakeTargets
from tests.fakes.kill_switch_orders import (
    FakeAccess,
    FakeBroker,
    FakeCloser,
    FakeOrderStore,
    FakeSettlement,
)
from tests.fakes.leases import FakeLeaseStore
from tests.fakes.records import Order, Position

UID = "u1"
DAY = "2026-11-25"
KEY = ContractKey(Underlying.NIFTY, date(2026, 12, 1), Decimal("26000"), OptionType.CE)
CONTRACT = {
    "underlying": "NIFTY", "expiry": "2026-12-01", "strike": "26000", "option_type": "CE",
    "exchange": "NFO", "lot_size": 65, "tick_size": "0.05", "product": "NRML",
    "broker": "zerodha", "broker_symbol": "NIFTY25DEC26000CE",
}  # fmt: skip


class Clock:
    def __init__(self) -> None:
        self.at = datetime(2026, 11, 25, 11, 0, tzinfo=IST)

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


@dataclass
class Rig:
    clock: Clock
    store: FakeKillSwitchStore
    targets: FakeTargets
    orders: FakeOrderStore
    brokers: dict[str, FakeBroker]
    closer: FakeCloser
    settlement: FakeSettlement
    leases: FakeLeaseStore
    switch: KillSwitch
    risk: Any = None

    def hold(self, account: str, net: int, strategy: str = "s1", price: str = "100") -> None:
        """A position from earlier fills (entered today at ``price``) and its last price."""
        side = {"sell_quantity": -net, "sell_value": str(Decimal(price) * -net)} if net < 0 else {
            "buy_quantity": net, "buy_value": str(Decimal(price) * net)}  # fmt: skip
        self.orders.add_position(
            Position(
                sk=f"POS#{strategy}#{account}#NIFTY-2026-12-01-26000-CE", uid=UID,
                strategy_id=strategy, account_id=account, symbol="NIFTY-2026-12-01-26000-CE",
                contract=dict(CONTRACT), net_quantity=net, version=1,
                updated_at=f"{DAY}T09:20:01.000+05:30", **side,  # type: ignore[arg-type]
            )
        )  # fmt: skip
        self.closer.quotes[(account, KEY)] = Decimal(price)

    def order(self, order_id: str, status: str = "BUILT", **extra: Any) -> Order:
        request = {**CONTRACT, "side": "SELL", "quantity": 65, "limit_price": "95", "tag": order_id}
        fields = {"phase": "ENTRY", "account_id": "A1", "strategy_id": "s1", **extra}
        return self.orders.add_order(
            Order(
                sk=f"ORDER#{DAY}#{order_id}", uid=UID, order_id=order_id,
                execution=f"EXEC#{DAY}#s1#ENTRY", broker="zerodha", tag=order_id,
                request=request, status=status, scheduled_at=f"{DAY}T09:20:00.000+05:30",
                **fields,
            )
        )  # fmt: skip

    def bought(self) -> int:
        """Units bought back by square-off orders (filled), over every pass."""
        return sum(
            o.filled_quantity
            for o in self.orders.orders.values()
            if o.phase.startswith("KILL") and o.request["side"] == "BUY"
        )


def rig(accounts: tuple[str, ...] = ("A1",), **switch_args: Any) -> Rig:
    clock = Clock()
    store, targets, orders = FakeKillSwitchStore(), FakeTargets(), FakeOrderStore()
    brokers = {a: FakeBroker(a) for a in accounts}
    for account in accounts:
        targets.add_account(UID, account)
    targets.add_strategy(UID, "s1")
    closer = FakeCloser(orders, FakeAccess(brokers), clock)
    settlement = FakeSettlement(orders, closer, clock)
    leases = FakeLeaseStore()
    switch = KillSwitch(
        store, targets, orders, settlement, clock, Leases(leases, clock),  # type: ignore[arg-type]
        **switch_args,
    )  # fmt: skip
    return Rig(clock, store, targets, orders, brokers, closer, settlement, leases, switch)


def engage_and_drive(r: Rig, scope: str = "all", target: str | None = None) -> Any:
    item, created = r.switch.engage(UID, scope, target, who=UID, reason="drill")
    assert created
    return r.switch.drive(item)
