"""A risk engine over the in-memory fakes: one user, one Zerodha account, a settled entry.

``World`` builds the strategy document, the entry execution and its filled orders, then the
engine (``RiskEngine``) with fake stores, a fake desk and a fake broker; tests move the clock and
the last price, fill orders at the broker and run monitor cycles.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from chalicelib.domain.calendar import IST
from chalicelib.domain.instrument import ContractKey
from chalicelib.domain.strategy_documents import from_document, to_document
from chalicelib.ports.broker import OrderStatus, OrderType
from chalicelib.services.closing import canonical_symbol, contract_doc, contract_key
from chalicelib.services.order_builder import ChildOrder
from chalicelib.services.order_sender import order_request
from chalicelib.services.risk_engine import RiskEngine
from tests.fakes.records import Account, Execution, Order, Strategy
from tests.fakes.risk import (
    BrokerOrder,
    FakeAccess,
    FakeBroker,
    FakeCloser,
    FakeDesk,
    FakeRiskBooks,
    FakeRiskOrders,
    FakeStrategies,
)

D = Decimal
UID, ACCOUNT, STRATEGY = "u1", "a1", "s1"
DAY = "2026-11-25"  # a trading Wednesday
TEN_AM = datetime(2026, 11, 25, 10, 0, tzinfo=IST)
ENTRY_SK = f"EXEC#{DAY}#{STRATEGY}#ENTRY"
LOT = 75


def leg(side: str = "SELL", strike: str = "24000", **rules: Any) -> dict[str, Any]:
    return {"side": side, "option_type": "CE", "strike": {"method": "ATM_OFFSET", "value": "0"},
            "lots": 1, "contract_strike": strike, **rules}  # fmt: skip


def spec(legs: list[dict[str, Any]], **risk: Any) -> dict[str, Any]:
    document = {
        "basket_id": "b1", "name": "unit", "underlying": "NIFTY", "expiry": "current_week",
        "product": "MIS",
        "entry": {"time": "09:20:00", "days": ["MON", "TUE", "WED", "THU", "FRI"]},
        "exit": {"time": "15:15:00", "days": ["MON", "TUE", "WED", "THU", "FRI"]},
        "allocations": [{"account_id": ACCOUNT, "multiplier": "1"}],
        "legs": [{k: v for k, v in lg.items() if k != "contract_strike"} for lg in legs],
        "risk": risk,
    }  # fmt: skip
    return to_document(from_document(document))  # as the strategy service stores it


def request(
    index: int, lg: dict[str, Any], price: str, tag: str, units: int = LOT
) -> dict[str, Any]:
    return {
        "account_id": ACCOUNT, "broker": "zerodha", "leg": index, "slice": 0,
        "side": lg["side"], "underlying": "NIFTY", "expiry": "2026-12-01",
        "strike": lg["contract_strike"], "option_type": "CE", "exchange": "NFO",
        "lot_size": LOT, "tick_size": "0.05", "quantity": units, "limit_price": price,
        "product": "MIS", "tag": tag,
    }  # fmt: skip


class World:
    def __init__(
        self,
        legs: list[dict[str, Any]],
        *,
        fills: list[tuple[str, int]] | None = None,
        lots: int = 1,
        waiting: frozenset[int] = frozenset(),
        **risk: Any,
    ) -> None:
        """``fills``: (average price, filled units) per leg's entry order of ``lots`` lots
        (default: all of it at 100). ``waiting`` legs (wait and trade) have no entry order."""
        self.now = TEN_AM
        self.books = FakeRiskBooks()
        self.store = FakeRiskOrders()
        self.config = FakeStrategies()
        self.broker = FakeBroker()
        self.closer = FakeCloser(FakeAccess({(UID, ACCOUNT): self.broker}))
        self.desk = FakeDesk(self.store, self.closer)
        self.steps: list[tuple[str, str]] = []
        self.crash_at: str | None = None
        self.legs = legs
        self.config.strategies[(UID, STRATEGY)] = Strategy(
            sk=f"STRATEGY#{STRATEGY}", uid=UID, strategy_id=STRATEGY, basket_id="b1",
            status="ACTIVE", spec=spec([{**lg, "lots": lots} for lg in legs], **risk),
        )  # fmt: skip
        self.store.add_execution(Execution(
            sk=ENTRY_SK, uid=UID, strategy_id=STRATEGY, phase="ENTRY", trade_date=DAY,
            slot="09:20", status="COMPLETE", owner="clock",
        ))  # fmt: skip
        self.config.accounts[(UID, ACCOUNT)] = Account(
            sk=f"ACCOUNT#{ACCOUNT}", uid=UID, account_id=ACCOUNT, broker="zerodha",
            client_id="ZX1", label="main", status="ACTIVE",
        )  # fmt: skip
        for index, lg in enumerate(legs):
            if index in waiting:
                continue
            ordered = lots * LOT
            price, units = fills[index] if fills else ("100", ordered)
            entry_request = request(index, lg, price, f"E{index}", ordered)
            self.store.add_order(Order(
                sk=f"ORDER#{DAY}#e{index}", uid=UID, order_id=f"e{index}", execution=ENTRY_SK,
                strategy_id=STRATEGY, phase="ENTRY", account_id=ACCOUNT, broker="zerodha",
                tag=f"E{index}", request=entry_request,
                status="COMPLETE" if units == ordered else "PARTIAL", broker_order_id=f"X{index}",
                filled_quantity=units, average_price=price if units else None,
                scheduled_at=TEN_AM.isoformat(),
            ))  # fmt: skip
            at_broker = BrokerOrder(
                f"X{index}", order_request(ChildOrder.from_dict(entry_request), self.closer.market),
                OrderStatus.COMPLETE if units == ordered else OrderStatus.OPEN, units,
                D(price) if units else None,
            )  # fmt: skip
            self.broker.book[at_broker.order_id] = at_broker
            if units:  # the entry's fills are in the positions (settlement applied them)
                entry = self.store.stored(f"e{index}")
                symbol = canonical_symbol(contract_key(entry.request))
                self.store.apply_fill(entry, symbol, contract_doc(entry.request), D(price))
                self.store.update(entry)
        for index in range(len(legs)):
            self.price(index, fills[index][0] if fills else "100")
        self.engine = self.new_engine()

    def new_engine(self) -> RiskEngine:
        """A (re)started monitor over the same stores and broker."""
        return RiskEngine(
            self.books, self.config, self.desk, lambda: self.now, self.store,
            checkpoint=self._checkpoint,
        )  # fmt: skip

    def _checkpoint(self, step: str, order: Any) -> None:
        self.steps.append((step, order.phase))
        if step == self.crash_at:
            raise Crash(step)

    # -- driving ---------------------------------------------------------------------------------
    def key(self, index: int) -> ContractKey:
        return contract_key(request(index, self.legs[index], "0", "x"))

    def price(self, index: int, value: str) -> None:
        self.closer.quotes[(ACCOUNT, self.key(index))] = D(value)

    def later(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def arm(self) -> Any:
        return self.engine.arm(UID, ENTRY_SK)

    def cycle(self) -> dict[str, int]:
        return self.engine.cycle(self.now)

    # -- reading -------------------------------------------------------------------------------
    def book(self) -> Any:
        return self.books.get(UID, DAY, STRATEGY)

    def guards(self) -> list[dict[str, Any]]:
        return self.book().guards

    def events(self) -> list[str]:
        return self.store.kinds(ENTRY_SK)

    def at_broker(self, order_type: OrderType | None = None) -> list[BrokerOrder]:
        return self.broker.placed(order_type)

    def stops(self) -> list[BrokerOrder]:
        return self.at_broker(OrderType.SL_LIMIT)

    def closes(self) -> list[BrokerOrder]:
        return self.at_broker(OrderType.LIMIT)

    def net(self) -> int:
        return sum(p.net_quantity for p in self.store.positions(UID, STRATEGY))


class Crash(Exception):
    """A monitor process dying at a named step of a risk order's send."""
