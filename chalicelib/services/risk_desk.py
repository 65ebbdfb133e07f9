"""What the risk engine needs from settlement: its order desk towards the brokers.

The monitor does not settle executions; it asks settlement to read an order's broker state into
the store (``poll``, ``record``: fills reach the positions exactly once, there), to settle a few
orders with a short backoff (``reconcile``), to ask for cancels (``cancel_open``), and, through
its position closer, for the market model, an account's adapter and last prices. ``Settlement``
satisfies this structurally; the engine's unit tests give a fake desk over fake brokers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, Protocol

from chalicelib.domain.instrument import ContractKey
from chalicelib.domain.market_model import MarketModel
from chalicelib.domain.records import OrderRecord
from chalicelib.ports.broker import Broker, OrderState
from chalicelib.services.closing import Holding


class AdapterSource(Protocol):
    def adapter(self, uid: str, account_id: str) -> Broker:
        """The account's logged-in adapter (raises ``DomainError`` / ``BrokerError``)."""
        ...


class DeskCloser(Protocol):
    market: MarketModel
    access: AdapterSource

    def prices(
        self, uid: str, holdings: Iterable[Holding]
    ) -> tuple[dict[tuple[str, ContractKey], Decimal], list[dict[str, Any]]]:
        """Last prices per (account, contract), and what could not be priced."""
        ...


class OrderDesk(Protocol):
    closer: DeskCloser

    def poll(self, adapter: Broker, order: OrderRecord) -> None:
        """One status read (by tag when there is no broker id yet), recorded in the store."""
        ...

    def record(self, order: OrderRecord, state: OrderState) -> None:
        """A broker state into the order (its new fills into the position, once)."""
        ...

    def reconcile(self, uid: str, orders: Sequence[OrderRecord]) -> bool:
        """Poll until every order is terminal or the desk's deadline passes."""
        ...

    def cancel_open(self, uid: str, orders: Iterable[OrderRecord]) -> list[OrderRecord]:
        """Ask the broker to cancel each acknowledged open order; those asked."""
        ...
