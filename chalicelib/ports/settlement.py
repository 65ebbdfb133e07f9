"""What settlement needs of the execution store: the execution it settles, its orders' outcomes,
the fills into positions, and the strategy's leg-failure policy.

Every method is a named, conditional operation of the store (docs/order-lifecycle.md): it returns
False when the condition failed (someone else moved the record), and the record passed in is then
refreshed from the store, so the caller continues from the truth. A write changes the record
passed in to what was stored. ``record_status`` and ``apply_fill`` write what the caller set on the
order (status, filled quantity, average price, history) from a broker status.

Errors: ``chalicelib.errors.NotFound`` for a record that does not exist,
``DependencyUnavailable`` when the store cannot be reached (after its own retries). The DynamoDB
adapter (``adapters/dynamo/execution_repository.py``) satisfies these protocols structurally.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Protocol

from chalicelib.domain.records import ExecutionRecord, OrderRecord, StrategyRecord


class ExecutionLog(Protocol):
    """The execution item (the exactly-once gate's record) and its append-only events."""

    def get_execution(self, uid: str, sk: str) -> ExecutionRecord:
        """The execution, read consistently; NotFound when there is none."""
        ...

    def update_execution(self, item: ExecutionRecord, **fields: Any) -> None:
        """Set ``fields`` (status, summary...) on the execution, unconditionally."""
        ...

    def add_event(self, item: ExecutionRecord, event: dict[str, Any]) -> None:
        """Append one event of the execution (never a rewrite of the execution)."""
        ...


class OrderOutcomes(Protocol):
    """What became of a request: acknowledged, outcome unknown, refused or never sent."""

    def record_ack(
        self,
        order: OrderRecord,
        broker_order_id: str,
        *,
        sent_at: str | None,
        acked_at: str,
        recovered: bool = False,
        message: str = "acknowledged",
    ) -> bool:
        """-> OPEN with the broker's id, from claimed / sent / unknown / failed, never over a
        different broker id."""
        ...

    def record_unknown(
        self, order: OrderRecord, error: dict[str, Any], *, at: str, sent_at: str | None = None
    ) -> bool:
        """-> UNKNOWN (the request may be at the broker), from claimed or sent."""
        ...

    def record_failed(
        self,
        order: OrderRecord,
        status: str,
        error: dict[str, Any],
        *,
        at: str,
        sent_at: str | None = None,
        claimed_before: str | None = None,
    ) -> bool:
        """-> REJECTED or FAILED before any acknowledgement; with ``claimed_before``, only when
        the order's claim (if any) is older than that instant."""
        ...


class SettlementStore(ExecutionLog, OrderOutcomes, Protocol):
    """The execution store as settlement uses it."""

    def orders_of_execution(self, uid: str, execution_sk: str) -> list[OrderRecord]:
        """Every order of the execution (entries, unwinds...)."""
        ...

    def claim_unwind(self, item: ExecutionRecord, token: str) -> bool:
        """The right to unwind a failed entry, once (the same token may take it again)."""
        ...

    def record_status(self, order: OrderRecord) -> bool:
        """Write the broker status set on ``order`` (status, fill, history), while the stored
        order is still working (or already in that status) and holds no larger fill."""
        ...

    def apply_fill(
        self,
        order: OrderRecord,
        symbol: str,
        contract: dict[str, Any],
        quantity: int,
        price: Decimal,
    ) -> bool:
        """The broker's cumulative ``quantity`` at average ``price`` into the position, each
        fill exactly once, with the order's status and history; False when nothing was left
        to apply."""
        ...


class StrategySpecs(Protocol):
    """The stored strategy (settlement reads its leg-failure policy)."""

    def get_strategy(self, uid: str, strategy_id: str) -> StrategyRecord:
        """NotFound when the strategy was deleted."""
        ...
