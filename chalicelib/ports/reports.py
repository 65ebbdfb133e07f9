"""What the reports (executions, orders, positions, P&L, risk books) read: the caller's records.

Read-only. ``ReportStore`` is implemented by the execution store and ``RiskBooks`` by the risk
book store (``adapters/dynamo/execution_repository`` and ``risk_items``), whose method names and
signatures these keep. Every read starts from the user's own partition: another user's execution
is simply not found (``NotFound``).
"""

from __future__ import annotations

from typing import Any, Protocol

from chalicelib.domain.records import ExecutionRecord, OrderRecord, PositionRecord, RiskBookRecord


class ReportStore(Protocol):
    def executions_on(self, uid: str, trade_date: str) -> list[ExecutionRecord]: ...

    def get_execution(self, uid: str, sk: str) -> ExecutionRecord: ...

    def orders_of_execution(self, uid: str, execution_sk: str) -> list[OrderRecord]: ...

    def orders_on(
        self, uid: str, trade_date: str, *, consistent: bool = False
    ) -> list[OrderRecord]: ...

    def positions(
        self, uid: str, strategy_id: str | None = None, *, consistent: bool = False
    ) -> list[PositionRecord]: ...


class RiskBooks(Protocol):
    def get(self, uid: str, trade_date: str, strategy_id: str) -> RiskBookRecord | None: ...

    def of_user(self, uid: str, trade_date: str) -> list[RiskBookRecord]: ...

    def events(self, execution: ExecutionRecord) -> list[dict[str, Any]]:
        """The execution's events, oldest first (settlement's and the risk engine's)."""
        ...
