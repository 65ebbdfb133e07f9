"""The risk engine's stores: its books, the orders it sends, and what it reads of a strategy.

``RiskBookStore`` holds one book per (user, trading date, strategy). Its version is the lock:
``save`` writes only if nobody changed the book since it was read, and ``create`` only if there is
none yet; a monitor that loses either acts on nothing.

``RiskOrderStore`` is the part of the execution store the monitor uses. Risk orders are intents
before they are orders (``services/risk_intents.py``): stored BUILT (``put_intents``), claimed
BUILT -> SENT by exactly one actor (``claim_intent``), abandoned BUILT -> FAILED ``never_sent``
when nobody may send them any more. Every transition is conditional on the state it starts from:
True for the write that moved the order (or when it already is where the write was taking it),
False with the order refreshed from the store when another actor moved it first.

Records are the protocols of ``domain/records.py``; the DynamoDB adapters
(``adapters/dynamo/risk_items.py``, ``risk_orders.py``) satisfy these protocols, and so do the
in-memory fakes of ``tests/fakes/risk.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from chalicelib.domain.records import (
    AccountRecord,
    ExecutionRecord,
    OrderRecord,
    PositionRecord,
    RiskBookRecord,
    StrategyRecord,
)
from chalicelib.ports.firing import ChildSpec


class RiskBookStore(Protocol):
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
    ) -> RiskBookRecord | None:
        """Store a new LIVE book; None when one exists already (armed by someone else)."""
        ...

    def save(self, book: RiskBookRecord) -> bool:
        """Write the book if its version is still the one read; False when somebody changed it
        (the book's fields are then stale: read it again)."""
        ...

    def get(self, uid: str, trade_date: str, strategy_id: str) -> RiskBookRecord | None:
        """The book, read consistently, or None."""
        ...

    def live(self, trade_date: str) -> Sequence[RiskBookRecord]:
        """Every book of the day not yet DONE (possibly a little stale: ``save`` catches it)."""
        ...


class RiskOrderStore(Protocol):
    def get_execution(self, uid: str, sk: str) -> ExecutionRecord:
        """The execution (raises ``NotFound``)."""
        ...

    def add_event(self, execution: ExecutionRecord, event: dict[str, Any]) -> None:
        """Append one event to the execution's journal."""
        ...

    def orders_of_execution(self, uid: str, execution_sk: str) -> Sequence[OrderRecord]:
        """Every order of the execution (an index read: possibly a little stale)."""
        ...

    def orders(self, uid: str, trade_date: str, order_ids: list[str]) -> Sequence[OrderRecord]:
        """The named orders of one day, read consistently, in the order named."""
        ...

    def positions(
        self, uid: str, strategy_id: str | None = None, *, consistent: bool = False
    ) -> Sequence[PositionRecord]:
        """The strategy's positions (every strategy's when None)."""
        ...

    def put_intents(
        self,
        uid: str,
        execution_sk: str,
        strategy_id: str,
        phase: str,
        children: Sequence[ChildSpec],
        scheduled_at: datetime,
    ) -> list[OrderRecord]:
        """Store one BUILT order per planned child, attached to the execution."""
        ...

    def reprice_order(self, order: OrderRecord, trigger: str, limit_price: str) -> None:
        """A resting stop order was modified at the broker: its request says so from now on."""
        ...

    def claim_intent(self, order: OrderRecord, sent_at: str) -> bool:
        """BUILT -> SENT: the one actor that wins places the order."""
        ...

    def abandon_intent(self, order: OrderRecord, message: str, at: str) -> bool:
        """BUILT -> FAILED ``never_sent``: nobody may send it any more."""
        ...

    def intent_never_reached(self, order: OrderRecord, message: str, at: str) -> bool:
        """SENT without a broker id -> FAILED ``never_sent`` (the broker never showed its tag)."""
        ...

    def record_intent_outcome(
        self, order: OrderRecord, status: str, entry: dict[str, Any], **fields: Any
    ) -> bool:
        """The broker's answer to the placement, written only while the order is still SENT."""
        ...


class StrategyReader(Protocol):
    """What arming and wait-and-trade read of the user's configuration (``NotFound`` when
    missing)."""

    def get_strategy(self, uid: str, strategy_id: str) -> StrategyRecord: ...

    def get_account(self, uid: str, account_id: str) -> AccountRecord: ...
