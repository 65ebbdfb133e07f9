"""What settlement and recovery talk to besides the store, in memory: a scripted broker account
(the port's ``Broker``: place, status, cancel, find by tag, quotes), the adapter source of the
closer and a fixed price source. No network, no clock.

The broker keeps an order book like a broker does: ``place`` adds an order under a new id and
its tag; ``status`` answers the book's state of the order, which tests move with ``fill``,
``reject`` or ``script`` (successive answers); ``find_by_tag`` reads the book. ``down`` makes
every call fail as ``Unavailable`` (the broker not answering).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from chalicelib.domain.instrument import ContractKey, Instrument
from chalicelib.errors import NotFound
from chalicelib.ports.broker import (
    Broker,
    Modification,
    OrderAck,
    OrderRequest,
    OrderState,
    OrderStatus,
    Position,
    Session,
    Side,
)
from chalicelib.ports.broker_errors import Unavailable
from chalicelib.services.closing import canonical_symbol


@dataclass
class ScriptedBroker:
    name: str = "zerodha"
    book: dict[str, OrderState] = field(default_factory=dict)
    scripts: dict[str, list[OrderState]] = field(default_factory=dict)
    placed: list[OrderRequest] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    prices: dict[ContractKey, Decimal] = field(default_factory=dict)
    #: Fill every placed order at its limit price at once (a liquid market).
    fill_on_place: bool = True
    down: bool = False
    status_calls: int = 0
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    # -- the test's hand on the book --------------------------------------------------------------
    def add(
        self,
        tag: str,
        quantity: int,
        *,
        side: Side = Side.SELL,
        status: OrderStatus = OrderStatus.OPEN,
        filled: int = 0,
        price: str | None = None,
        order_id: str | None = None,
    ) -> str:
        """An order in the book (placed by someone the platform lost track of)."""
        order_id = order_id or f"B{next(self._ids)}"
        self.book[order_id] = OrderState(
            order_id, status, quantity, filled, None if price is None else Decimal(price),
            tag=tag, symbol=f"SYM{tag}", side=side,
        )  # fmt: skip
        return order_id

    def fill(self, order_id: str, filled: int, price: str) -> None:
        state = self.book[order_id]
        status = OrderStatus.COMPLETE if filled >= state.quantity else OrderStatus.OPEN
        self.book[order_id] = _replace(state, status=status, filled=filled, price=price)

    def reject(self, order_id: str, message: str = "RMS: margin exceeds") -> None:
        state = self.book[order_id]
        self.book[order_id] = OrderState(
            order_id, OrderStatus.REJECTED, state.quantity, 0, None, tag=state.tag,
            symbol=state.symbol, side=state.side, message=message,
        )  # fmt: skip

    def script(self, order_id: str, *states: OrderState) -> None:
        """Successive answers of ``status`` for the order (the last one repeats)."""
        self.scripts[order_id] = list(states)

    # -- the port -------------------------------------------------------------------------------
    def place(self, request: OrderRequest) -> OrderAck:
        self._check()
        self.placed.append(request)
        order_id = f"B{next(self._ids)}"
        filled = request.quantity if self.fill_on_place else 0
        self.book[order_id] = OrderState(
            order_id,
            OrderStatus.COMPLETE if self.fill_on_place else OrderStatus.OPEN,
            request.quantity, filled, request.price if filled else None, tag=request.tag,
            symbol=canonical_symbol(request.instrument.key), side=request.side,
        )  # fmt: skip
        return OrderAck(order_id, request.tag)

    def status(self, order_id: str) -> OrderState:
        self._check()
        self.status_calls += 1
        script = self.scripts.get(order_id)
        if script:
            return script.pop(0) if len(script) > 1 else script[0]
        return self.book[order_id]

    def cancel(self, order_id: str) -> OrderAck:
        self._check()
        self.cancelled.append(order_id)
        state = self.book[order_id]
        if not state.status.terminal:
            self.book[order_id] = OrderState(
                order_id, OrderStatus.CANCELLED, state.quantity, state.filled_quantity,
                state.average_price, tag=state.tag, symbol=state.symbol, side=state.side,
            )  # fmt: skip
        return OrderAck(order_id, state.tag)

    def find_by_tag(self, tag: str) -> Sequence[OrderState]:
        self._check()
        return [state for state in self.book.values() if state.tag == tag]

    def order_book(self) -> Sequence[OrderState]:
        self._check()
        return list(self.book.values())

    def quotes(self, instruments: Sequence[Instrument]) -> Mapping[ContractKey, Decimal]:
        self._check()
        return {i.key: self.prices[i.key] for i in instruments if i.key in self.prices}

    def modify(self, order_id: str, change: Modification, *, request: OrderRequest) -> OrderAck:
        raise NotImplementedError("settlement never modifies an order")

    def positions(self) -> Sequence[Position]:
        raise NotImplementedError("settlement reads positions from the store")

    def login_url(self, state: str) -> str:
        raise NotImplementedError

    def exchange_code(self, code: str) -> Session:
        raise NotImplementedError

    def instruments(self) -> bytes:
        raise NotImplementedError

    def _check(self) -> None:
        if self.down:
            raise Unavailable("the broker is not answering", sent=False)


def _replace(state: OrderState, *, status: OrderStatus, filled: int, price: str) -> OrderState:
    return OrderState(
        state.order_id, status, state.quantity, filled, Decimal(price), tag=state.tag,
        symbol=state.symbol, side=state.side,
    )  # fmt: skip


@dataclass
class Accounts:
    """The closer's adapter source: one scripted broker per account."""

    brokers: dict[str, ScriptedBroker]

    def adapter(self, uid: str, account_id: str) -> Broker:
        if account_id not in self.brokers:
            raise NotFound("broker account not found")
        return self.brokers[account_id]
