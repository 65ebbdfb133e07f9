"""What the notification watch reads (services/notifications/watch.py), from the one table: the
schedule index the planner reads, the planner's executions and their orders, and every account's
broker session."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from chalicelib.adapters.dynamo.models import ExecutionItem
from chalicelib.adapters.dynamo.repository import guarded
from chalicelib.services.notifications.watch import Due, Session


class DynamoWatchFacts:
    def __init__(self, repo: Any, executions: Any, label: Callable[[str, str, str], str]) -> None:
        self.repo, self.executions, self.label = repo, executions, label

    def due(self, weekday: str, hhmm: str) -> list[Due]:
        return [
            Due(item.uid, item.strategy_id, item.phase, item.fire_time)
            for item in self.repo.due(weekday, hhmm)
        ]

    def execution(
        self, uid: str, trade_date: str, strategy_id: str, phase: str
    ) -> tuple[str, list[str]] | None:
        pk, sk = ExecutionItem.key(uid, trade_date, strategy_id, phase)

        def load() -> ExecutionItem | None:
            try:
                return ExecutionItem.get(pk, sk, consistent_read=True)
            except ExecutionItem.DoesNotExist:
                return None

        item = guarded(load)
        if item is None:
            return None
        orders = self.executions.orders_of_execution(uid, sk)
        return str(item.status), [str(o.status) for o in orders]

    def sessions(self) -> Iterator[Session]:
        by_user: dict[str, list[Any]] = {}
        for account in self.repo.all_accounts():
            by_user.setdefault(account.uid, []).append(account)
        for uid, accounts in by_user.items():
            sessions = self.repo.sessions_of(uid)
            for account in accounts:
                held = sessions.get(account.account_id)
                if held is None:
                    continue
                label = self.label(account.label, account.broker, account.client_id)
                expires = datetime.fromisoformat(held.expires_at)
                yield Session(uid, account.account_id, label, expires)

    def strategy_name(self, uid: str, strategy_id: str) -> str:
        try:
            return str(self.repo.get_strategy(uid, strategy_id).spec.get("name") or strategy_id)
        except Exception:  # a deleted strategy still gets its alert, under its id
            return strategy_id
