"""What the planner needs from the store (``services/planner.py``), in the engine's terms.

One slot's reads come in one call (``read_slot``: the due schedule, the accounts and sessions
they trade through, the baskets that forbid an entry, and how many requests that took), then per
execution: take the exactly-once gate, make the BUILT orders, store them, record the outcome.
The DynamoDB adapter is ``adapters/dynamo/plan_store.py``; ``tests/fakes/planning.py`` keeps the
same conditions in memory.

Errors: a store that cannot be reached raises ``chalicelib.errors.DependencyUnavailable`` (the
planner records ``storage_unavailable`` for orders it could not store); a gate already taken is
not an error, ``open_execution`` answers None.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from chalicelib.domain.plan_parts import PlanPart
from chalicelib.domain.records import (
    AccountRecord,
    ExecutionRecord,
    OrderRecord,
    ScheduleRecord,
    SessionRecord,
)
from chalicelib.ports.firing import ChildSpec

#: (uid, account id) -> the account and its session (None: never logged in today).
Accounts = dict[tuple[str, str], tuple[AccountRecord, SessionRecord | None]]


@dataclass
class SlotReads:
    """Everything the planner reads before planning one slot (or one part of it)."""

    due: list[ScheduleRecord]
    accounts: Accounts
    #: (uid, strategy id) -> why its basket forbids an entry now (disabled, deleted).
    closed: dict[tuple[str, str], str] = field(default_factory=dict)
    #: Requests the reads took (the planner logs it per tick; a constant per shard and part).
    requests: int = 0


class PlanStore(Protocol):
    def read_slot(self, weekday: str, hhmm: str, part: PlanPart | None) -> SlotReads:
        """What is due at one IST minute (all users, or those of ``part``) and what it needs."""
        ...

    def open_execution(
        self,
        uid: str,
        trade_date: str,
        strategy_id: str,
        phase: str,
        slot: str,
        owner: str,
        token: str | None = None,
    ) -> ExecutionRecord | None:
        """Take the exactly-once gate (status PLANNED); None when another attempt holds it."""
        ...

    def new_order(
        self,
        uid: str,
        execution_sk: str,
        strategy_id: str,
        phase: str,
        child: ChildSpec,
        scheduled_at: datetime,
        order_id: str | None = None,
    ) -> OrderRecord:
        """A BUILT order for ``child`` (the ``NewOrders`` port of ports/firing.py); not stored."""
        ...

    def put_orders(self, orders: Iterable[OrderRecord]) -> None:
        """Store BUILT orders (deterministic ids: a retried write rewrites the same orders)."""
        ...

    def update_execution(self, item: ExecutionRecord, **fields: Any) -> None:
        """Record the execution's outcome (``status``, ``summary``)."""
        ...
