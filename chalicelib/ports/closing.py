"""What closing needs of the execution store: the positions held, and the closing orders it
writes and sends (exits, unwinds, square-offs), and what the exit guard at T needs to close only
what is held when it acts.

Conditional operations return False when the order moved meanwhile (the record passed in is then
refreshed from the store). The DynamoDB adapter (``adapters/dynamo/execution_repository.py``)
satisfies these protocols structurally.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from chalicelib.domain.records import OrderRecord, PositionRecord
from chalicelib.ports.firing import NewOrders
from chalicelib.ports.settlement import ExecutionLog, OrderOutcomes


class PositionReads(Protocol):
    def positions(
        self, uid: str, strategy_id: str | None = None, *, consistent: bool = False
    ) -> list[PositionRecord]:
        """The user's positions (of one strategy), flat ones included."""
        ...


class ClosingStore(PositionReads, OrderOutcomes, NewOrders, Protocol):
    """The store as ``PositionCloser`` uses it: positions, and closing orders written ahead of
    their send (``record_sent``) and their outcome."""

    def put_orders(self, items: Iterable[OrderRecord]) -> None:
        """Store new BUILT orders (a retried write rewrites the same orders)."""
        ...

    def record_sent(self, order: OrderRecord, sent_at: str) -> None:
        """Write a new order as SENT just before its request leaves (write-ahead); raises
        DependencyUnavailable when its id is already in use by another order."""
        ...


class ExitGuardStore(PositionReads, ExecutionLog, NewOrders, Protocol):
    """The store as the exit guard uses it at T, under the close lease."""

    def orders_on(
        self, uid: str, trade_date: str, *, consistent: bool = False
    ) -> list[OrderRecord]:
        """Every order of the user on one day."""
        ...

    def put_claimed(self, items: Sequence[OrderRecord], owner: str, *, at: str) -> None:
        """Store new orders already claimed (SENDING) by ``owner`` at ``at`` (each one's claim
        token is ``<owner>:<order id>``), so nobody else claims them before their send."""
        ...

    def renew_claim(
        self, order: OrderRecord, token: str, *, at: str, request: dict[str, Any] | None = None
    ) -> bool:
        """Still this claim's and unsent: renew ``claimed_at`` (store a trimmed request)."""
        ...

    def hold_back(
        self, order: OrderRecord, token: str, code: str, message: str, *, at: str
    ) -> bool:
        """Claimed and not sent now: it stays claimed, with the reason."""
        ...

    def cancel_unsent(
        self, order: OrderRecord, token: str, code: str, message: str, *, at: str
    ) -> bool:
        """Claimed, never sent, nothing left to close: CANCELLED."""
        ...
