"""In-memory orders, positions and executions, and a broker and settlement around them, for the
kill switch's, the day limits' and the reports' unit tests.

``FakeOrderStore`` implements ``ports.kill_switch.KillSwitchExecutions``,
``ports.reports.ReportStore`` and ``ports.day_limits.PositionSource`` with the execution store's
conditions: ``withdraw_unsent`` only from BUILT (False once a firer claimed the order),
``record_ack`` only from the states an acknowledgement may follow and never over another broker
id, ``open_execution`` only once per (user, day, strategy, phase), the stored execution coming
back only to the token that created it. Reads return copies; a transition refreshes the record
passed in with what is stored, as the DynamoDB store does.

``FakeBroker`` is one account at the broker: orders fill at once, rest, or fill in part
(``fill``), and the whole account can be down. ``FakeSettlement`` is the settlement the kill
switch drives: it cancels and polls through the broker and applies new fills to the positions
once (``applied_quantity``), as ``services.settlement`` does.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from chalicelib.domain import order_lifecycle as lc
from chalicelib.domain.calendar import IST
from chalicelib.domain.instrument import ContractKey
from chalicelib.domain.market_model import MarketModel
from chalicelib.errors import NotFound
from chalicelib.ports.broker import OrderState, OrderStatus
from chalicelib.ports.broker_errors import Unavailable
from chalicelib.services.closing import Holding, canonical_symbol, contract_doc, contract_key
from tests.fakes.records import Execution, Order, Position

ACKED_FROM = lc.ACK_FROM


def _refresh(target: Any, stored: Any) -> None:
    for name, value in vars(stored).items():
        setattr(target, name, copy.deepcopy(value))


class FakeOrderStore:
    def __init__(self) -> None:
        self.orders: dict[tuple[str, str], Order] = {}
        self.held: dict[tuple[str, str], Position] = {}
        self.runs: dict[tuple[str, str], Execution] = {}
        #: method name -> called with the method's arguments first (a racing actor, a crash)
        self.before: dict[str, Callable[..., None]] = {}

    def _before(self, name: str, *args: Any) -> None:
        hook = self.before.get(name)
        if hook is not None:
            hook(*args)

    # -- seeding and inspection (tests) --------------------------------------------------------
    def add_order(self, order: Order) -> Order:
        self.orders[(order.uid, order.order_id)] = copy.deepcopy(order)
        return order

    def add_position(self, position: Position) -> Position:
        self.held[(position.uid, position.sk)] = copy.deepcopy(position)
        return position

    def add_execution(self, execution: Execution) -> Execution:
        self.runs[(execution.uid, execution.sk)] = copy.deepcopy(execution)
        return execution

    def order(self, uid: str, order_id: str) -> Order:
        return self.orders[(uid, order_id)]

    def net(self, uid: str) -> dict[tuple[str, str, str], int]:
        """Net quantity per (strategy, account, symbol) of the user's positions."""
        return {
            (p.strategy_id, p.account_id, p.symbol): p.net_quantity
            for (u, _), p in self.held.items()
            if u == uid
        }

    # -- writes the fake settlement makes ------------------------------------------------------
    def write(self, order: Order) -> None:
        self.orders[(order.uid, order.order_id)] = copy.deepcopy(order)

    def apply_fill(self, order: Order, at: str) -> None:
        """The order's fills not applied yet, into its position (once: ``applied_quantity``)."""
        new = int(order.filled_quantity) - int(order.applied_quantity or 0)
        if new <= 0:
            return
        price = Decimal(order.average_price or order.request["limit_price"])
        key = contract_key(order.request)
        symbol = canonical_symbol(key)
        sk = f"POS#{order.strategy_id}#{order.account_id}#{symbol}"
        position = self.held.get((order.uid, sk)) or Position(
            sk=sk, uid=order.uid, strategy_id=order.strategy_id, account_id=order.account_id,
            symbol=symbol, contract=contract_doc(order.request), version=0, created_at=at,
        )  # fmt: skip
        if order.request["side"] == "BUY":
            position.buy_quantity += new
            position.buy_value = str(Decimal(position.buy_value) + price * new)
            position.net_quantity += new
        else:
            position.sell_quantity += new
            position.sell_value = str(Decimal(position.sell_value) + price * new)
            position.net_quantity -= new
        position.version = int(position.version or 0) + 1
        position.updated_at = at
        self.held[(order.uid, sk)] = position
        order.applied_quantity = int(order.filled_quantity)
        order.applied = 1
        self.write(order)

    # -- KillSwitchExecutions / ReportStore / PositionSource -----------------------------------
    def orders_on(self, uid: str, trade_date: str, *, consistent: bool = False) -> list[Order]:
        self._before("orders_on", uid, trade_date)
        prefix = f"ORDER#{trade_date}#"
        return [
            copy.deepcopy(o)
            for (u, _), o in sorted(self.orders.items())
            if u == uid and o.sk.startswith(prefix)
        ]

    def orders_of_execution(self, uid: str, execution_sk: str) -> list[Order]:
        found = self.orders.items()
        return [copy.deepcopy(o) for (u, _), o in found if u == uid and o.execution == execution_sk]

    def positions(
        self, uid: str, strategy_id: str | None = None, *, consistent: bool = False
    ) -> list[Position]:
        prefix = f"POS#{strategy_id}#" if strategy_id else "POS#"
        return [
            copy.deepcopy(p)
            for (u, sk), p in sorted(self.held.items())
            if u == uid and sk.startswith(prefix)
        ]

    def withdraw_unsent(self, order: Order, code: str, message: str, *, at: str) -> bool:
        self._before("withdraw_unsent", order)
        stored = self.orders[(order.uid, order.order_id)]
        if stored.status != lc.BUILT:
            _refresh(order, stored)
            return stored.status == lc.CANCELLED and (stored.error or {}).get("code") == code
        entry = {"at": at, "status": lc.CANCELLED, "filled_quantity": 0, "average_price": None,
                 "message": message}  # fmt: skip
        stored.status = lc.CANCELLED
        stored.error = {"code": code, "message": message}
        stored.history = [*(stored.history or []), entry]
        _refresh(order, stored)
        return True

    def record_ack(
        self,
        order: Order,
        broker_order_id: str,
        *,
        sent_at: str | None,
        acked_at: str,
        recovered: bool = False,
        message: str = "acknowledged",
    ) -> bool:
        stored = self.orders[(order.uid, order.order_id)]
        other_id = stored.broker_order_id not in (None, broker_order_id)
        if stored.status not in ACKED_FROM or other_id:
            _refresh(order, stored)
            return stored.broker_order_id == broker_order_id
        entry = {"at": acked_at, "status": lc.OPEN, "message": message, "recovered": recovered}
        if stored.status == lc.FAILED:
            stored.error = None
        stored.status = lc.OPEN
        stored.broker_order_id = broker_order_id
        stored.acked_at = acked_at
        stored.sent_at = stored.sent_at or sent_at
        stored.history = [*(stored.history or []), entry]
        _refresh(order, stored)
        return True

    def open_execution(
        self,
        uid: str,
        trade_date: str,
        strategy_id: str,
        phase: str,
        slot: str,
        owner: str,
        token: str | None = None,
    ) -> Execution | None:
        sk = f"EXEC#{trade_date}#{strategy_id}#{phase}"
        token = token or f"random-{len(self.runs)}"
        stored = self.runs.get((uid, sk))
        if stored is not None:
            return copy.deepcopy(stored) if stored.gate_token == token else None
        execution = Execution(
            sk=sk, uid=uid, strategy_id=strategy_id, phase=phase, trade_date=trade_date,
            slot=slot, status="PLANNED", owner=owner, gate_token=token, events=[],
        )  # fmt: skip
        self.runs[(uid, sk)] = copy.deepcopy(execution)
        return execution

    def get_execution(self, uid: str, sk: str) -> Execution:
        try:
            return copy.deepcopy(self.runs[(uid, sk)])
        except KeyError:
            raise NotFound("execution not found") from None

    def executions_on(self, uid: str, trade_date: str) -> list[Execution]:
        prefix = f"EXEC#{trade_date}"
        found = sorted(self.runs.items())
        return [copy.deepcopy(e) for (u, sk), e in found if u == uid and sk.startswith(prefix)]


@dataclass
class FakeBroker:
    """One account at the broker. ``fill``: "full" (fills at the limit at once), "none" (rests
    open until cancelled) or "half" (half the lots fill, the rest rests)."""

    account_id: str
    fill: str = "full"
    down: bool = False
    name: str = "zerodha"
    book: dict[str, OrderState] = field(default_factory=dict)
    placed: list[str] = field(default_factory=list)  # tags, in the order they arrived
    _ids: Iterator[int] = field(default_factory=itertools.count)

    def place(self, tag: str, side: str, quantity: int, price: Decimal) -> str:
        self._check()
        order_id = f"{self.account_id}-{next(self._ids)}"
        filled = {"full": quantity, "none": 0, "half": quantity // 2}[self.fill]
        status = OrderStatus.COMPLETE if filled == quantity else OrderStatus.OPEN
        self.book[order_id] = OrderState(
            order_id, status, quantity, filled, price if filled else None, tag=tag
        )
        self.placed.append(tag)
        return order_id

    def order_book(self) -> Sequence[OrderState]:
        self._check()
        return list(self.book.values())

    def status(self, order_id: str) -> OrderState:
        self._check()
        return self.book[order_id]

    def cancel(self, order_id: str) -> None:
        self._check()
        state = self.book[order_id]
        if not state.status.terminal:
            self.book[order_id] = OrderState(
                order_id, OrderStatus.CANCELLED, state.quantity, state.filled_quantity,
                state.average_price, tag=state.tag,
            )  # fmt: skip

    def _check(self) -> None:
        if self.down:
            raise Unavailable("broker is down", broker=self.name, http_status=503)


@dataclass
class FakeAccess:
    brokers: dict[str, FakeBroker]

    def adapter(self, uid: str, account_id: str) -> FakeBroker:
        return self.brokers[account_id]


@dataclass
class FakeCloser:
    """``services.exits.PositionCloser`` as the kill switch and the day limits use it."""

    store: FakeOrderStore
    access: FakeAccess
    clock: Any
    quotes: dict[tuple[str, ContractKey], Decimal] = field(default_factory=dict)
    market: MarketModel = field(default_factory=MarketModel)
    sent: list[Order] = field(default_factory=list)

    def prices(
        self, uid: str, holdings: Iterable[Holding]
    ) -> tuple[dict[tuple[str, ContractKey], Decimal], list[dict[str, Any]]]:
        found = {}
        for h in holdings:
            if (h.account_id, h.key) in self.quotes:
                found[(h.account_id, h.key)] = self.quotes[(h.account_id, h.key)]
        return found, []

    def send_closing(
        self, uid: str, execution_sk: str, strategy_id: str, orders: Iterable[Any], *, phase: str
    ) -> list[Order]:
        now = self.clock()
        sent = []
        for child in orders:
            order = Order(
                sk=f"ORDER#{now.astimezone(IST).date().isoformat()}#{child.tag}",
                uid=uid, order_id=child.tag, execution=execution_sk, strategy_id=strategy_id,
                phase=phase, account_id=child.account_id, broker=child.broker, tag=child.tag,
                request=child.to_dict(), status=lc.SENT, scheduled_at=now.isoformat(),
                sent_at=now.isoformat(), history=[],
            )  # fmt: skip
            self.store.add_order(order)
            broker = self.access.adapter(uid, child.account_id)
            broker_id = broker.place(child.tag, child.side, child.quantity, child.limit_price)
            self.store.record_ack(order, broker_id, sent_at=None, acked_at=now.isoformat())
            sent.append(order)
        self.sent += sent
        return sent


STATUS = {
    OrderStatus.COMPLETE: lc.COMPLETE,
    OrderStatus.CANCELLED: lc.CANCELLED,
    OrderStatus.REJECTED: lc.REJECTED,
    OrderStatus.OPEN: lc.OPEN,
    OrderStatus.PENDING: lc.OPEN,
    OrderStatus.TRIGGER_PENDING: lc.OPEN,
}


@dataclass
class FakeSettlement:
    store: FakeOrderStore
    closer: FakeCloser
    clock: Any
    settled: list[str] = field(default_factory=list)

    def cancel_open(self, uid: str, orders: Iterable[Order]) -> list[Order]:
        asked = []
        for order in orders:
            if order.status in lc.TERMINAL or not order.broker_order_id:
                continue
            try:
                self.closer.access.adapter(uid, order.account_id).cancel(order.broker_order_id)
            except Unavailable:
                continue
            asked.append(order)
        return asked

    def reconcile(self, uid: str, orders: Sequence[Order], *, give_up: bool = True) -> bool:
        for order in orders:
            if order.broker_order_id and order.status not in lc.TERMINAL:
                try:
                    state = self.closer.access.adapter(uid, order.account_id).status(
                        order.broker_order_id
                    )
                except Unavailable:
                    continue
                self.record(order, state)
        return all(o.status in lc.TERMINAL for o in orders)

    def record(self, order: Order, state: OrderState) -> None:
        status = STATUS[state.status]
        if status == lc.OPEN and state.filled_quantity:
            status = lc.PARTIAL
        order.status = status
        order.filled_quantity = state.filled_quantity
        order.average_price = None if state.average_price is None else str(state.average_price)
        self.store.write(order)
        self.store.apply_fill(order, _stamp(self.clock()))

    def settle(self, uid: str, execution_sk: str, *, orders: Sequence[Order]) -> None:
        self.store.get_execution(uid, execution_sk)  # NotFound as the real one
        self.settled.append(execution_sk)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(IST).isoformat(timespec="milliseconds")
