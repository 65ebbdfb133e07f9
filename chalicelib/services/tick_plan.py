"""What the planner hands the firer for one slot: executions, their orders, the fire batches."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib.domain.records import OrderRecord


@dataclass
class PlannedExecution:
    uid: str
    strategy_id: str
    phase: str
    execution_sk: str
    scheduled_at: datetime
    orders: list[OrderRecord] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    #: Every leg of the usable accounts waits for its premium to move (wait and trade): the
    #: risk monitor enters them, so the entry is WAITING, not SKIPPED.
    waiting: bool = False


@dataclass
class TickPlan:
    slot: datetime
    executions: list[PlannedExecution] = field(default_factory=list)
    skipped: str | None = None
    stats: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def merged(cls, slot: datetime, parts: list[TickPlan]) -> TickPlan:
        """The parts of one slot's plan as one plan: executions in the order one planner would
        have made them (time, user, strategy), counts summed."""
        whole = cls(slot)
        whole.executions = sorted(
            (e for part in parts for e in part.executions),
            key=lambda e: (e.scheduled_at, e.uid, e.strategy_id),
        )
        whole.skipped = next((part.skipped for part in parts if part.skipped), None)
        for part in parts:
            for name, value in part.stats.items():
                whole.stats[name] = whole.stats.get(name, 0) + value
        return whole

    @property
    def orders(self) -> list[OrderRecord]:
        return [o for e in self.executions for o in e.orders]

    def batches(
        self, accounts_per_batch: int = 5, max_batches: int | None = None
    ) -> list[dict[str, Any]]:
        """Order references grouped by account (an account's orders stay in one batch, so
        BUY-before-SELL and the rate limiter hold), a few accounts per fire Lambda; with
        ``max_batches`` a busy tick spreads its accounts evenly over that many batches instead
        (the fire Map's concurrency: a batch beyond it would start only after another ended)."""
        by_account: dict[tuple[str, str], list[OrderRecord]] = {}
        for order in self.orders:
            by_account.setdefault((order.uid, order.account_id), []).append(order)
        groups = list(by_account.items())
        if not groups:
            return []
        count = -(-len(groups) // accounts_per_batch)
        if max_batches is not None:
            count = min(count, max_batches)
        size, extra = divmod(len(groups), count)
        batches = []
        start = 0
        for index in range(count):
            end = start + size + (1 if index < extra else 0)
            batches.append(
                {
                    "orders": [
                        {"uid": o.uid, "sk": o.sk, "scheduled_at": o.scheduled_at}
                        for _, orders in groups[start:end]
                        for o in orders
                    ]
                }
            )
            start = end
        return batches
