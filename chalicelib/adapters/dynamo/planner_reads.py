"""What the planner reads each tick (part of ``Repository``): the slot from GSI2 (one Query per
shard), the due accounts and sessions, and the basket gate, in BatchGets of 100 keys."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from chalicelib.adapters.dynamo.guarded import guarded
from chalicelib.adapters.dynamo.models import (
    AccountItem,
    BaseItem,
    BasketItem,
    ScheduleItem,
    SessionItem,
    StrategyItem,
)
from chalicelib.adapters.dynamo.table_access import TableAccess


class PlannerReads(TableAccess):
    def due(self, weekday: str, hhmm: str) -> list[ScheduleItem]:
        """Everything due at one IST minute: one Query per shard (plus pages), whatever the load."""
        items: list[ScheduleItem] = []
        for shard in range(self.schedule_shards):
            items.extend(self._due_in_shard(ScheduleItem.slot_key(weekday, hhmm, shard)))
        return items

    def _due_in_shard(self, slot: str) -> Iterator[ScheduleItem]:
        results = guarded(lambda: list(BaseItem.gsi2.query(slot)))
        for item in results:
            if isinstance(item, ScheduleItem):
                yield item

    def schedule_of_strategy(self, uid: str, strategy_id: str) -> list[ScheduleItem]:
        return self._query_user(ScheduleItem, uid, f"SCHED#{strategy_id}#")

    def user_schedule(self, uid: str) -> list[ScheduleItem]:
        return self._query_user(ScheduleItem, uid, "SCHED#")

    def accounts_and_sessions(
        self, pairs: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[AccountItem, SessionItem | None]]:
        """Accounts and their sessions for many users at once: BatchGet, 100 keys a request."""
        keys = []
        for uid, account_id in sorted(set(pairs)):
            keys.append(AccountItem.key(uid, account_id))
            keys.append(SessionItem.key(uid, account_id))
        found: dict[tuple[str, str], BaseItem] = {}
        for item in guarded(lambda: list(BaseItem.batch_get(keys, consistent_read=True))):
            found[(item.pk, item.sk)] = item
        result: dict[tuple[str, str], tuple[AccountItem, SessionItem | None]] = {}
        for uid, account_id in sorted(set(pairs)):
            account = found.get(AccountItem.key(uid, account_id))
            if isinstance(account, AccountItem):
                session = found.get(SessionItem.key(uid, account_id))
                result[(uid, account_id)] = (
                    account,
                    session if isinstance(session, SessionItem) else None,
                )
        return result

    def closed_baskets(self, due: Iterable[ScheduleItem]) -> dict[tuple[str, str], str]:
        """(uid, strategy_id) -> why the strategy's basket forbids an entry now (disabled, gone).

        The plan-time half of the basket gate: a schedule item that outlived its basket's flag
        (a race, a partial rewrite, a release that did not check) still never enters. BatchGets
        of 100 keys; items written before the basket id was in the payload cost one more
        BatchGet of their strategies.
        """
        basket_of: dict[tuple[str, str], str | None] = {}
        legacy: set[tuple[str, str]] = set()
        for item in due:
            basket_id = item.payload.get("basket_id")
            basket_of[(item.uid, item.strategy_id)] = basket_id
            if basket_id is None:
                legacy.add((item.uid, item.strategy_id))
        if legacy:
            keys = [StrategyItem.key(uid, sid) for uid, sid in sorted(legacy)]
            for found in self._batch_get(keys).values():
                if isinstance(found, StrategyItem):
                    basket_of[(found.uid, found.strategy_id)] = found.basket_id
        wanted = {(uid, b) for (uid, _), b in basket_of.items() if b is not None}
        baskets = self._batch_get([BasketItem.key(uid, b) for uid, b in sorted(wanted)])
        closed: dict[tuple[str, str], str] = {}
        for (uid, strategy_id), basket_id in basket_of.items():
            basket = baskets.get(BasketItem.key(uid, basket_id)) if basket_id else None
            if not isinstance(basket, BasketItem):
                closed[(uid, strategy_id)] = "the strategy's basket no longer exists"
            elif not basket.enabled:
                closed[(uid, strategy_id)] = "the strategy's basket is disabled"
        return closed

    def _batch_get(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], BaseItem]:
        if not keys:
            return {}
        found = guarded(lambda: list(BaseItem.batch_get(list(keys), consistent_read=True)))
        return {(item.pk, item.sk): item for item in found}
