"""What the recovery sweep needs of the execution store: one day's unsettled orders and
executions, and the transitions that resolve an order nobody is working on any more.

Every transition is conditional (False when the order moved meanwhile; the record passed in is
then refreshed), so a sweep racing the live firer, settlement or another sweep never acts twice.
The DynamoDB adapters satisfy these protocols structurally.
"""

from __future__ import annotations

from typing import Protocol

from chalicelib.domain.records import AccountRecord, ExecutionRecord, OrderRecord
from chalicelib.ports.settlement import ExecutionLog, OrderOutcomes


class RecoveryStore(ExecutionLog, OrderOutcomes, Protocol):
    def unsettled_orders(self, uid: str, trade_date: str) -> list[OrderRecord]:
        """Orders of the day not terminal, or terminal with a fill not yet in the position
        (read consistently)."""
        ...

    def executions_on(self, uid: str, trade_date: str) -> list[ExecutionRecord]: ...

    def orders_on(
        self, uid: str, trade_date: str, *, consistent: bool = False
    ) -> list[OrderRecord]: ...

    def record_missed(self, order: OrderRecord, reason: str, *, at: str) -> bool:
        """An entry never sent: MISSED, from BUILT or claimed and never sent."""
        ...

    def reopen_to_resend(
        self,
        order: OrderRecord,
        tag: str,
        reason: str,
        *,
        at: str,
        claimed_before: str | None = None,
    ) -> bool:
        """A closing order the broker never received, back to BUILT under ``tag``, once, and
        never under a claim younger than ``claimed_before``."""
        ...


class AccountDirectory(Protocol):
    """Every broker account of every user (the sweep visits their users)."""

    def all_accounts(self) -> list[AccountRecord]: ...
