"""Baskets, strategies and their schedule entries (part of ``Repository``).

The basket gate is serialised on the basket item itself: a strategy joining a basket (create or
move) increments the basket's version in its transaction, on condition that the enabled flag is
still the one it read; disabling or deleting a basket is conditioned on that version. Either the
joiner commits first (and the basket writer, having read a now-stale version, fails and re-reads
the strategies) or the basket writer commits first (and the joiner's flag condition fails).
Strategies of a basket are read from the base table with consistent reads, never from GSI1,
which is eventually consistent on AWS.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamo.guarded import guarded, now_iso
from chalicelib.adapters.dynamo.models import BasketItem, ScheduleItem, StrategyItem
from chalicelib.adapters.dynamo.table_access import TRANSACTION_LIMIT, TableAccess
from chalicelib.domain.schedule import ScheduleEntry, shard_of
from chalicelib.errors import NotFound


class StrategyTables(TableAccess):
    def create_basket(self, uid: str, basket_id: str, *, name: str, enabled: bool) -> BasketItem:
        item = BasketItem(
            *BasketItem.key(uid, basket_id),
            uid=uid,
            basket_id=basket_id,
            name=name,
            enabled=int(enabled),
        )
        self.put_basket(item)
        return item

    def new_strategy(
        self, uid: str, strategy_id: str, *, basket_id: str, status: str, spec: dict[str, Any]
    ) -> StrategyItem:
        """A strategy record not stored yet: ``save_strategy(..., create=True)`` stores it."""
        return StrategyItem(
            *StrategyItem.key(uid, strategy_id),
            uid=uid,
            strategy_id=strategy_id,
            basket_id=basket_id,
            status=status,
            spec=spec,
        )

    def put_basket(self, item: BasketItem) -> None:
        item.created_at = item.updated_at = now_iso()
        guarded(lambda: item.save(BasketItem.pk.does_not_exist()))

    def get_basket(self, uid: str, basket_id: str) -> BasketItem:
        return self._get(BasketItem, BasketItem.key(uid, basket_id))

    def find_basket(self, uid: str, basket_id: str) -> BasketItem | None:
        """The basket, or None when it does not exist (a strategy left by an older release)."""
        try:
            return self.get_basket(uid, basket_id)
        except NotFound:
            return None

    def list_baskets(self, uid: str) -> list[BasketItem]:
        return self._query_user(BasketItem, uid, "BASKET#")

    def delete_basket(self, item: BasketItem) -> None:
        """Delete on condition of the version read: a strategy that joined meanwhile bumped it."""

        def write(tx: TransactWrite) -> None:
            tx.delete(item)  # PynamoDB adds `version = <read>` for a versioned model

        self._transact(write)

    def save_basket_with_schedules(
        self,
        basket: BasketItem,
        rewrites: Sequence[tuple[StrategyItem, list[ScheduleEntry]]],
    ) -> None:
        """Save a basket and set its strategies' schedules, in as few transactions as fit.

        ``rewrites`` must be every strategy of the basket, read after the basket. Each strategy is
        guarded by its version and the basket by the version read, so a strategy that joined,
        moved or changed meanwhile fails the write (ConcurrentChange) and the caller re-reads.
        The basket is written with the last chunk: a partial failure leaves the old flag, the
        planner still checks the flag, and retrying the request converges.
        """
        basket.updated_at = now_iso()
        stored = self._stored_schedule_keys(basket.uid)
        plans = [(s, puts, stored.get(s.strategy_id, set())) for s, puts in rewrites]
        chunks: list[list[tuple[StrategyItem, list[ScheduleEntry], set[tuple[str, str]]]]] = [[]]
        size = 1
        for plan in plans:
            cost = 1 + len(plan[1]) + len(plan[2])
            if size + cost > TRANSACTION_LIMIT:
                chunks.append([])
                size = 1
            chunks[-1].append(plan)
            size += cost
        for number, chunk in enumerate(chunks):
            last = number == len(chunks) - 1

            def write(tx: TransactWrite, chunk: list[Any] = chunk, last: bool = last) -> None:
                for strategy, puts, existing in chunk:
                    tx.condition_check(
                        StrategyItem,
                        strategy.pk,
                        strategy.sk,
                        condition=StrategyItem.version == strategy.version,
                    )
                    self._schedule_writes(tx, strategy, puts, existing)
                if last:
                    tx.save(basket)  # with `version = <read>`: no strategy joined meanwhile

            self._transact(write)

    # -- strategies ----------------------------------------------------------------------------
    def get_strategy(self, uid: str, strategy_id: str) -> StrategyItem:
        return self._get(StrategyItem, StrategyItem.key(uid, strategy_id))

    def find_strategy(self, uid: str, strategy_id: str) -> StrategyItem | None:
        try:
            return self.get_strategy(uid, strategy_id)
        except NotFound:
            return None

    def list_strategies(self, uid: str) -> list[StrategyItem]:
        return self._query_user(StrategyItem, uid, "STRATEGY#")

    def strategies_of_basket(self, uid: str, basket_id: str) -> list[StrategyItem]:
        """A basket's strategies from the base table (consistent), not from GSI1 (eventual):
        a basket writer must see every strategy that joined before it read the basket."""
        return [s for s in self.list_strategies(uid) if s.basket_id == basket_id]

    def save_strategy(
        self,
        strategy: StrategyItem,
        basket: BasketItem | None,
        puts: Iterable[ScheduleEntry],
        *,
        create: bool,
        joins: bool,
    ) -> None:
        """Write the strategy and exactly ``puts`` as its schedule items, atomically.

        The strategy's own version guards the write (PynamoDB adds it); the schedule items it
        already has are read consistently and those not in ``puts`` deleted. The basket's
        enabled flag must still be the one read (``puts`` were derived from it). A strategy
        that ``joins`` the basket (create, move) also bumps the basket's version, which makes a
        concurrent disable or delete of the basket fail and re-read. ``basket`` None means the
        basket is gone: nothing may be scheduled then.
        """
        puts = list(puts)
        if basket is None and puts:
            raise ValueError("a strategy without a basket cannot be scheduled")
        # GSI1 lists a basket's strategies: the key follows the basket the strategy is in.
        strategy.gsi1pk, strategy.gsi1sk = StrategyItem.basket_index_key(
            strategy.uid, strategy.basket_id, strategy.strategy_id
        )
        strategy.updated_at = now_iso()
        if create:
            strategy.created_at = strategy.updated_at
        existing: set[tuple[str, str]] = set()
        if not create:
            stored = self._stored_schedule_keys(strategy.uid, strategy.strategy_id)
            existing = stored.get(strategy.strategy_id, set())

        def write(tx: TransactWrite) -> None:
            if basket is not None:
                same_flag = BasketItem.enabled == basket.enabled
                if joins:
                    tx.update(
                        basket,
                        actions=[BasketItem.updated_at.set(strategy.updated_at)],
                        condition=same_flag,
                        add_version_condition=False,
                    )
                else:
                    tx.condition_check(BasketItem, basket.pk, basket.sk, condition=same_flag)
            tx.save(strategy, StrategyItem.pk.does_not_exist() if create else None)
            self._schedule_writes(tx, strategy, puts, existing)

        self._transact(write)

    def delete_strategy(self, strategy: StrategyItem) -> None:
        """Delete the strategy (at the version read) and every schedule item it has."""
        existing = self._stored_schedule_keys(strategy.uid, strategy.strategy_id)

        def write(tx: TransactWrite) -> None:
            tx.delete(strategy)
            self._schedule_writes(tx, strategy, [], existing.get(strategy.strategy_id, set()))

        self._transact(write)

    def _stored_schedule_keys(
        self, uid: str, strategy_id: str | None = None
    ) -> dict[str, set[tuple[str, str]]]:
        """The schedule item keys stored now, by strategy (what must go if not rewritten)."""
        prefix = f"SCHED#{strategy_id}#" if strategy_id else "SCHED#"
        keys: dict[str, set[tuple[str, str]]] = {}
        for item in self._query_user(ScheduleItem, uid, prefix):
            keys.setdefault(item.strategy_id, set()).add((item.pk, item.sk))
        return keys

    def _schedule_writes(
        self,
        tx: TransactWrite,
        strategy: StrategyItem,
        puts: list[ScheduleEntry],
        existing: set[tuple[str, str]],
    ) -> None:
        put_keys = {ScheduleItem.key(strategy.uid, e.strategy_id, e.phase, e.weekday) for e in puts}
        for entry in puts:
            tx.save(self.schedule_item(strategy, entry))
        for key in sorted(existing - put_keys):
            tx.delete(ScheduleItem(*key))

    def schedule_item(self, strategy: StrategyItem, entry: ScheduleEntry) -> ScheduleItem:
        """The GSI2 item for one schedule entry of a strategy (sharded by user and strategy)."""
        uid = strategy.uid
        pk, sk = ScheduleItem.key(uid, entry.strategy_id, entry.phase, entry.weekday)
        shard = shard_of(uid, entry.strategy_id, self.schedule_shards)
        return ScheduleItem(
            pk,
            sk,
            gsi2pk=ScheduleItem.slot_key(entry.weekday, entry.hhmm, shard),
            gsi2sk=f"{uid}#{entry.strategy_id}#{entry.phase}",
            uid=uid,
            strategy_id=entry.strategy_id,
            phase=entry.phase.value,
            fire_time=entry.fire_time,
            # The basket travels with the item so the planner can check its flag at plan time.
            payload={**entry.payload, "basket_id": strategy.basket_id},
            strategy_version=(strategy.version or 0) + 1,
            created_at=now_iso(),
        )
