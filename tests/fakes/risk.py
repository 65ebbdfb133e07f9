"""In-memory fakes of the risk engine's ports, with the DynamoDB adapters' semantics.

* ``FakeRiskBooks`` (``ports.risk.RiskBookStore``): each reader gets its own copy of a book; a
  save succeeds only when the copy's version is the stored one (then both move on by one), and a
  book is created once. Two monitors holding copies of one book race exactly as on the table.
* ``FakeRiskOrders`` (``ports.risk.RiskOrderStore``): orders, executions (with their events)
  and positions. The intents' transitions are conditional on the state they start from; a
  refused one refreshes the caller's copy from the store and returns False.
* ``FakeBroker`` (``ports.broker.Broker``): one account's order book, driven by the test
  (``fill``, ``refuse_next``); it records every placement, cancel and modification.
* ``FakeDesk`` (``services.risk_desk.OrderDesk``): settlement's part the monitor uses, over the
  fake brokers and the fake order store; fills reach the positions once per filled unit.
"""

from __future__ import annotations

import copy
import dataclasses
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from typing import Any

from chalicelib.domain.calendar import IST
from chalicelib.domain.instrument import ContractKey
from chalicelib.domain.market_model import MarketModel
from chalicelib.domain.risk_book import DONE, LIVE
from chalicelib.errors import NotFound
from chalicelib.ports.broker import (
    Modification,
    OrderAck,
    OrderRequest,
    OrderState,
    OrderStatus,
    OrderType,
    Position,
)
from chalicelib.ports.broker_errors import BrokerError, OrderNotFound, Rejected
from chalicelib.ports.firing import ChildSpec
from chalicelib.services.closing import Holding, canonical_symbol, contract_doc, contract_key
from chalicelib.services.settlement import ITEM_STATUS, TERMINAL
from tests.fakes.records import Account, Execution, Order, RiskBook, Strategy
from tests.fakes.records import Position as PositionRecord


def _copy_into(target: Any, source: Any) -> None:
    for f in fields(source):
        setattr(target, f.name, copy.deepcopy(getattr(source, f.name)))


# -- risk books ---------------------------------------------------------------------------------
class FakeRiskBooks:
    def __init__(self) -> None:
        self._books: dict[tuple[str, str, str], RiskBook] = {}
        #: Called with a copy of the stored book just before a save is judged: a test makes
        #: another monitor write there (``FakeRiskBooks.save`` of that copy).
        self.before_save: Callable[[RiskBook], None] | None = None
        self.saves = 0

    def create_book(
        self,
        uid: str,
        trade_date: str,
        strategy_id: str,
        *,
        execution: str,
        exit_time: str,
        rules: dict[str, Any],
        guards: list[dict[str, Any]],
        mtm: dict[str, Any],
    ) -> RiskBook | None:
        key = (uid, trade_date, strategy_id)
        if key in self._books:
            return None
        book = RiskBook(
            sk=f"RISK#{trade_date}#{strategy_id}", uid=uid, strategy_id=strategy_id,
            trade_date=trade_date, execution=execution, status=LIVE, exit_time=exit_time,
            rules=rules, guards=guards, mtm=mtm, version=1,
        )  # fmt: skip
        self._books[key] = copy.deepcopy(book)
        return book

    def save(self, book: RiskBook) -> bool:
        key = (book.uid, book.trade_date, book.strategy_id)
        if self.before_save is not None:
            hook, self.before_save = self.before_save, None
            hook(copy.deepcopy(self._books[key]))
        stored = self._books.get(key)
        if stored is None or stored.version != book.version:
            return False
        book.version = int(book.version or 0) + 1
        self._books[key] = copy.deepcopy(book)
        self.saves += 1
        return True

    def get(self, uid: str, trade_date: str, strategy_id: str) -> RiskBook | None:
        found = self._books.get((uid, trade_date, strategy_id))
        return None if found is None else copy.deepcopy(found)

    def live(self, trade_date: str) -> list[RiskBook]:
        return [
            copy.deepcopy(b)
            for (_, day, _), b in self._books.items()
            if day == trade_date and b.status != DONE
        ]

    def of_user(self, uid: str, trade_date: str) -> list[RiskBook]:
        return [
            copy.deepcopy(b) for (u, d, _), b in self._books.items() if (u, d) == (uid, trade_date)
        ]


# -- orders, executions, positions --------------------------------------------------------------
class FakeRiskOrders:
    def __init__(self) -> None:
        self.executions: dict[tuple[str, str], Execution] = {}
        self.events: dict[str, list[dict[str, Any]]] = {}
        self._orders: dict[str, Order] = {}
        self.positions_by_key: dict[tuple[str, str, str, str], PositionRecord] = {}

    # test set-up and inspection
    def add_execution(self, execution: Execution) -> None:
        self.executions[(execution.uid, execution.sk)] = execution

    def add_order(self, order: Order) -> None:
        self._orders[order.order_id] = copy.deepcopy(order)

    def stored(self, order_id: str) -> Order:
        return copy.deepcopy(self._orders[order_id])

    def all_orders(self, phase: str | None = None) -> list[Order]:
        return [copy.deepcopy(o) for o in self._orders.values() if phase in (None, o.phase)]

    def kinds(self, execution_sk: str) -> list[str]:
        return [e["kind"] for e in self.events.get(execution_sk, [])]

    def update(self, order: Order) -> None:
        """A settlement write (status, fills, history) of the caller's copy."""
        self._orders[order.order_id] = copy.deepcopy(order)

    # ports.risk.RiskOrderStore
    def get_execution(self, uid: str, sk: str) -> Execution:
        found = self.executions.get((uid, sk))
        if found is None:
            raise NotFound("execution not found")
        return copy.deepcopy(found)

    def add_event(self, execution: Execution, event: dict[str, Any]) -> None:
        self.events.setdefault(execution.sk, []).append(dict(event))

    def orders_of_execution(self, uid: str, execution_sk: str) -> list[Order]:
        return [
            copy.deepcopy(o)
            for o in self._orders.values()
            if o.uid == uid and o.execution == execution_sk
        ]

    def orders(self, uid: str, trade_date: str, order_ids: list[str]) -> list[Order]:
        return [
            copy.deepcopy(self._orders[i])
            for i in dict.fromkeys(order_ids)
            if i in self._orders and self._orders[i].uid == uid
        ]

    def positions(
        self, uid: str, strategy_id: str | None = None, *, consistent: bool = False
    ) -> list[PositionRecord]:
        return [
            copy.deepcopy(p)
            for (u, s, _, _), p in self.positions_by_key.items()
            if u == uid and strategy_id in (None, s)
        ]

    def put_intents(
        self,
        uid: str,
        execution_sk: str,
        strategy_id: str,
        phase: str,
        children: Sequence[ChildSpec],
        scheduled_at: datetime,
    ) -> list[Order]:
        local = scheduled_at.astimezone(IST)
        made = []
        for child in children:
            request = child.to_dict()
            order_id = secrets.token_hex(8)
            order = Order(
                sk=f"ORDER#{local.date().isoformat()}#{order_id}", uid=uid, order_id=order_id,
                execution=execution_sk, strategy_id=strategy_id, phase=phase,
                account_id=str(request["account_id"]), broker=str(request["broker"]),
                tag=str(request["tag"]), request=dict(request), status="BUILT",
                scheduled_at=local.isoformat(timespec="milliseconds"), history=[],
            )  # fmt: skip
            self._orders[order_id] = copy.deepcopy(order)
            made.append(order)
        return made

    def reprice_order(self, order: Order, trigger: str, limit_price: str) -> None:
        order.request = {**order.request, "trigger": trigger, "limit_price": limit_price}
        self._orders[order.order_id].request = dict(order.request)

    def claim_intent(self, order: Order, sent_at: str) -> bool:
        return self._transition(order, "BUILT", {"status": "SENT", "sent_at": sent_at})

    def abandon_intent(self, order: Order, message: str, at: str) -> bool:
        return self._never_sent(order, message, at, lambda o: o.status == "BUILT")

    def intent_never_reached(self, order: Order, message: str, at: str) -> bool:
        return self._never_sent(
            order, message, at, lambda o: o.status == "SENT" and not o.broker_order_id
        )

    def record_intent_outcome(
        self, order: Order, status: str, entry: dict[str, Any], **changes: Any
    ) -> bool:
        history = [*(order.history or []), entry]
        return self._transition(order, "SENT", {"status": status, "history": history, **changes})

    def _never_sent(
        self, order: Order, message: str, at: str, allowed: Callable[[Order], bool]
    ) -> bool:
        entry = {"at": at, "status": "FAILED", "filled_quantity": 0, "average_price": None,
                 "message": message}  # fmt: skip
        changes = {
            "status": "FAILED",
            "error": {"kind": "never_sent", "code": "never_sent", "message": message},
            "history": [*(order.history or []), entry],
        }
        return self._apply(order, allowed, changes)

    def _transition(self, order: Order, from_status: str, changes: dict[str, Any]) -> bool:
        return self._apply(order, lambda o: o.status == from_status, changes)

    def _apply(
        self, order: Order, allowed: Callable[[Order], bool], changes: dict[str, Any]
    ) -> bool:
        stored = self._orders[order.order_id]
        if not allowed(stored):
            _copy_into(order, stored)  # the refused writer sees where the order is now
            return False
        for name, value in changes.items():
            setattr(stored, name, copy.deepcopy(value))
            setattr(order, name, copy.deepcopy(value))
        return True

    # what settlement does on a fill (``ExecutionRepository.apply_fill``), once per unit
    def apply_fill(
        self, order: Order, symbol: str, contract: dict[str, Any], price: Decimal
    ) -> None:
        new = int(order.filled_quantity) - int(order.applied_quantity or 0)
        if new <= 0:
            return
        key = (order.uid, order.strategy_id, order.account_id, symbol)
        position = self.positions_by_key.setdefault(
            key,
            PositionRecord(
                sk=f"POS#{order.strategy_id}#{order.account_id}#{symbol}", uid=order.uid,
                strategy_id=order.strategy_id, account_id=order.account_id, symbol=symbol,
                contract=contract, version=1,
            ),
        )  # fmt: skip
        value = price * new
        if order.request["side"] == "BUY":
            position.net_quantity += new
            position.buy_quantity += new
            position.buy_value = str(Decimal(position.buy_value) + value)
        else:
            position.net_quantity -= new
            position.sell_quantity += new
            position.sell_value = str(Decimal(position.sell_value) + value)
        order.applied_quantity = int(order.filled_quantity)
        order.applied = 1


class FakeStrategies:
    """``ports.risk.StrategyReader`` over plain records."""

    def __init__(self) -> None:
        self.strategies: dict[tuple[str, str], Strategy] = {}
        self.accounts: dict[tuple[str, str], Account] = {}

    def get_strategy(self, uid: str, strategy_id: str) -> Strategy:
        try:
            return self.strategies[(uid, strategy_id)]
        except KeyError:
            raise NotFound("strategy not found") from None

    def get_account(self, uid: str, account_id: str) -> Account:
        try:
            return self.accounts[(uid, account_id)]
        except KeyError:
            raise NotFound("account not found") from None


# -- the broker ---------------------------------------------------------------------------------
@dataclass
class BrokerOrder:
    order_id: str
    request: OrderRequest
    status: OrderStatus
    filled: int = 0
    average: Decimal | None = None
    message: str = ""


@dataclass
class FakeBroker:
    """One account at a broker. LIMIT orders rest OPEN, SL-LIMIT orders TRIGGER_PENDING, until
    the test fills them; ``fill_limits`` fills every LIMIT order at its price as it arrives."""

    name: str = "zerodha"
    fill_limits: bool = False
    #: Cancels are acknowledged but take effect only at ``confirm_cancels`` (a slow exchange).
    defer_cancels: bool = False
    book: dict[str, BrokerOrder] = field(default_factory=dict)
    #: What reached the broker, in order: ("place", tag), ("cancel", id), ("modify", id).
    calls: list[tuple[str, str]] = field(default_factory=list)
    _refusals: list[Exception] = field(default_factory=list)
    _cancelling: list[str] = field(default_factory=list)

    def refuse_next(self, error: Exception) -> None:
        self._refusals.append(error)

    def placed(self, order_type: OrderType | None = None) -> list[BrokerOrder]:
        return [o for o in self.book.values() if order_type in (None, o.request.order_type)]

    def fill(
        self, order_id: str, quantity: int | None = None, price: Decimal | None = None
    ) -> None:
        order = self.book[order_id]
        quantity = order.request.quantity if quantity is None else quantity
        price = price if price is not None else order.request.price
        value = (order.average or Decimal(0)) * order.filled + price * (quantity - order.filled)
        order.filled = quantity
        order.average = (value / quantity).quantize(Decimal("0.01"))
        order.status = (
            OrderStatus.COMPLETE if quantity >= order.request.quantity else OrderStatus.OPEN
        )

    # ports.broker.Broker (the parts the risk engine calls)
    def place(self, request: OrderRequest) -> OrderAck:
        self.calls.append(("place", request.tag))
        if self._refusals:
            raise self._refusals.pop(0)
        order_id = f"B{len(self.book) + 1}"
        resting = OrderStatus.TRIGGER_PENDING if request.trigger else OrderStatus.OPEN
        self.book[order_id] = BrokerOrder(order_id, request, resting)
        if self.fill_limits and request.order_type is OrderType.LIMIT:
            self.fill(order_id)
        return OrderAck(order_id, request.tag)

    def status(self, order_id: str) -> OrderState:
        order = self.book.get(order_id)
        if order is None:
            raise OrderNotFound("no such order", broker=self.name)
        request = order.request
        return OrderState(
            order_id=order_id, status=order.status, quantity=request.quantity,
            filled_quantity=order.filled, average_price=order.average, tag=request.tag,
            symbol=request.instrument.key.underlying.value, side=request.side,
            message=order.message,
        )  # fmt: skip

    def cancel(self, order_id: str) -> OrderAck:
        self.calls.append(("cancel", order_id))
        order = self.book[order_id]
        if order.status.terminal:
            raise Rejected("order already closed", broker=self.name)
        if self.defer_cancels:
            self._cancelling.append(order_id)
        else:
            order.status = OrderStatus.CANCELLED
        return OrderAck(order_id, order.request.tag)

    def confirm_cancels(self) -> None:
        for order_id in self._cancelling:
            if not self.book[order_id].status.terminal:
                self.book[order_id].status = OrderStatus.CANCELLED
        self._cancelling.clear()

    def modify(self, order_id: str, change: Modification, *, request: OrderRequest) -> OrderAck:
        self.calls.append(("modify", order_id))
        order = self.book[order_id]
        order.request = dataclasses.replace(
            order.request,
            price=change.price if change.price is not None else order.request.price,
            trigger=change.trigger if change.trigger is not None else order.request.trigger,
        )
        return OrderAck(order_id, order.request.tag)

    def order_book(self) -> list[OrderState]:
        return [self.status(i) for i in self.book]

    def find_by_tag(self, tag: str) -> list[OrderState]:
        return [self.status(i) for i, o in self.book.items() if o.request.tag == tag]

    def positions(self) -> list[Position]:
        return []


# -- the order desk (settlement's part) -----------------------------------------------------------
@dataclass
class FakeAccess:
    brokers: dict[tuple[str, str], FakeBroker]

    def adapter(self, uid: str, account_id: str) -> FakeBroker:
        try:
            return self.brokers[(uid, account_id)]
        except KeyError:
            raise NotFound("no broker session") from None


@dataclass
class FakeCloser:
    access: FakeAccess
    market: MarketModel = field(default_factory=MarketModel)
    #: Last prices the test sets, per (account, contract).
    quotes: dict[tuple[str, ContractKey], Decimal] = field(default_factory=dict)

    def prices(
        self, uid: str, holdings: Iterable[Holding]
    ) -> tuple[dict[tuple[str, ContractKey], Decimal], list[dict[str, Any]]]:
        found, missing = {}, []
        for holding in holdings:
            slot = (holding.account_id, holding.key)
            if slot in self.quotes:
                found[slot] = self.quotes[slot]
            else:
                missing.append({"account_id": holding.account_id, "key": str(holding.key)})
        return found, missing


@dataclass
class FakeDesk:
    store: FakeRiskOrders
    closer: FakeCloser

    def poll(self, adapter: FakeBroker, order: Order) -> None:
        """As ``Settlement.poll``: by tag when there is no broker id; a broker error leaves the
        order as it is (asked again later)."""
        try:
            if not order.broker_order_id:
                found = adapter.find_by_tag(order.tag)
                if len(found) != 1:
                    return
                order.broker_order_id = found[0].order_id
            state = adapter.status(str(order.broker_order_id))
        except BrokerError:
            return
        self.record(order, state)

    def record(self, order: Order, state: OrderState) -> None:
        status = ITEM_STATUS[state.status]
        if status == "OPEN" and state.filled_quantity > 0:
            status = "PARTIAL"
        average = None if state.average_price is None else str(state.average_price)
        entry = {"status": status, "filled_quantity": state.filled_quantity,
                 "average_price": average, "message": state.message}  # fmt: skip
        order.history = [*(order.history or []), entry]
        order.status, order.filled_quantity, order.average_price = (
            status, state.filled_quantity, average,
        )  # fmt: skip
        if state.filled_quantity:
            price = Decimal(average or order.request["limit_price"])
            symbol = canonical_symbol(contract_key(order.request))
            self.store.apply_fill(order, symbol, contract_doc(order.request), price)
        self.store.update(order)

    def reconcile(self, uid: str, orders: Sequence[Order]) -> bool:
        for order in orders:
            if order.status not in TERMINAL:
                adapter = self._adapter(uid, order.account_id)
                if adapter is not None:
                    self.poll(adapter, order)
        return all(o.status in TERMINAL for o in orders)

    def cancel_open(self, uid: str, orders: Iterable[Order]) -> list[Order]:
        asked = []
        for order in orders:
            if order.status in TERMINAL or not order.broker_order_id:
                continue
            adapter = self._adapter(uid, order.account_id)
            if adapter is None:
                continue
            try:
                adapter.cancel(order.broker_order_id)
            except BrokerError:
                continue
            asked.append(order)
        return asked

    def _adapter(self, uid: str, account_id: str) -> FakeBroker | None:
        try:
            return self.closer.access.adapter(uid, account_id)
        except NotFound:
            return None
