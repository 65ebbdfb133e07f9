"""The execution item: the exactly-once gate of one phase of one strategy on one trading day.

The gate is a conditional put: the first caller for (user, strategy, trading date, phase) creates
the execution item and owns the slot; every other caller (a duplicate trigger, a retry, a second
clock) gets None and sends nothing. The gate carries a token of its attempt, so a write retried
after a timeout that finds the gate taken by the same token continues.
"""

from __future__ import annotations

import secrets
from typing import Any

from chalicelib.adapters.dynamo.conditional_writes import ConditionalWrites, ConditionFailed
from chalicelib.adapters.dynamo.event_items import append_event
from chalicelib.adapters.dynamo.models import BaseItem, ExecutionItem, user_pk
from chalicelib.adapters.dynamo.repository import guarded, now_iso
from chalicelib.errors import NotFound


class ExecutionGate(ConditionalWrites):
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
        """Create the execution if nobody has; None when another attempt owns it (do not send).

        ``token`` names this attempt: a write retried after a timeout that finds the gate taken
        by the same token took it itself, and continues.
        """
        token = token or secrets.token_hex(8)
        item = ExecutionItem(
            *ExecutionItem.key(uid, trade_date, strategy_id, phase),
            uid=uid,
            strategy_id=strategy_id,
            phase=phase,
            trade_date=trade_date,
            slot=slot,
            status="PLANNED",
            owner=owner,
            gate_token=token,
            events=[],
        )
        item.created_at = item.updated_at = now_iso()
        try:
            self._write(lambda: item.save(ExecutionItem.pk.does_not_exist()))
        except ConditionFailed:
            stored = self.get_execution(uid, item.sk)
            return stored if stored.gate_token == token else None
        return item

    def update_execution(self, item: ExecutionItem, **fields: Any) -> None:
        actions = [getattr(ExecutionItem, name).set(value) for name, value in fields.items()]
        actions.append(ExecutionItem.updated_at.set(now_iso()))
        self._write(lambda: item.update(actions=actions))

    def add_event(self, item: ExecutionItem, event: dict[str, Any]) -> None:
        """One append-only event item (``event_items``): never a rewrite of the execution item,
        which two writers would race on and a busy day would grow past 400 KB."""
        append_event(item.uid, item.sk, event)

    def claim_unwind(self, item: ExecutionItem, token: str) -> bool:
        """Take the right to unwind a failed entry, once: two settlers never both unwind."""
        try:
            self._write(
                lambda: item.update(
                    actions=[ExecutionItem.unwind_token.set(token)],
                    condition=ExecutionItem.unwind_token.does_not_exist()
                    | (ExecutionItem.unwind_token == token),
                )
            )
        except ConditionFailed:
            item.refresh(consistent_read=True)
            return False
        return True

    def get_execution(self, uid: str, sk: str) -> ExecutionItem:
        try:
            return guarded(lambda: ExecutionItem.get(user_pk(uid), sk, consistent_read=True))
        except ExecutionItem.DoesNotExist:
            raise NotFound("execution not found") from None

    def executions_on(self, uid: str, trade_date: str) -> list[ExecutionItem]:
        return guarded(
            lambda: list(
                ExecutionItem.query(user_pk(uid), BaseItem.sk.startswith(f"EXEC#{trade_date}"))
            )
        )
