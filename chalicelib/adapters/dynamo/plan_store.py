"""The planner's store on the single table (``ports/planning.py``): the slot's reads through
GSI2 and BatchGets, the gate and the orders through the execution repository."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from chalicelib.adapters.dynamo.execution_repository import ExecutionRepository
from chalicelib.adapters.dynamo.metrics import count_requests
from chalicelib.adapters.dynamo.models import ExecutionItem, OrderItem
from chalicelib.adapters.dynamo.order_items import order_item
from chalicelib.adapters.dynamo.repository import Repository
from chalicelib.adapters.dynamo.schedule_parts import due_in_part
from chalicelib.domain.plan_parts import PlanPart
from chalicelib.ports.firing import ChildSpec
from chalicelib.ports.planning import SlotReads


class DynamoPlanStore:
    def __init__(self, repo: Repository, executions: ExecutionRepository) -> None:
        self.repo = repo
        self.executions = executions

    def read_slot(self, weekday: str, hhmm: str, part: PlanPart | None) -> SlotReads:
        """One Query per GSI2 shard (with the part's key condition), BatchGets of 100 keys for
        the accounts and sessions, and the baskets of the entries; counted on this thread."""
        with count_requests() as requests:
            if part is None or part.whole:
                due = self.repo.due(weekday, hhmm)
            else:
                due = due_in_part(self.repo.schedule_shards, weekday, hhmm, part)
            pairs = {(d.uid, a) for d in due for a in d.payload["accounts"]}
            accounts = self.repo.accounts_and_sessions(pairs) if pairs else {}
            closed = self.repo.closed_baskets(d for d in due if d.phase == "ENTRY")
        return SlotReads(list(due), dict(accounts), closed, sum(requests.values()))

    def open_execution(
        self,
        uid: str,
        trade_date: str,
        strategy_id: str,
        phase: str,
        slot: str,
        owner: str,
        token: str | None = None,
    ) -> ExecutionItem | None:
        return self.executions.open_execution(
            uid, trade_date, strategy_id, phase, slot, owner, token
        )

    def new_order(
        self,
        uid: str,
        execution_sk: str,
        strategy_id: str,
        phase: str,
        child: ChildSpec,
        scheduled_at: datetime,
        order_id: str | None = None,
    ) -> OrderItem:
        return order_item(uid, execution_sk, strategy_id, phase, child, scheduled_at, order_id)

    def put_orders(self, orders: Iterable[OrderItem]) -> None:
        self.executions.put_orders(orders)

    def update_execution(self, item: ExecutionItem, **fields: Any) -> None:
        self.executions.update_execution(item, **fields)
