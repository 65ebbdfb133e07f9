"""One method per access pattern of the single table; keys are built by the entities.

Every multi-item invariant (a strategy and its schedule entries, a basket and its strategies'
schedules) is written in one TransactWrite, so the GSI2 schedule index can never go stale.

The basket gate is serialised on the basket item itself: a strategy joining a basket (create or
move) increments the basket's version in its transaction, on condition that the enabled flag is
still the one it read; disabling or deleting a basket is conditioned on that version. Either the
joiner commits first (and the basket writer, having read a now-stale version, fails and re-reads
the strategies) or the basket writer commits first (and the joiner's flag condition fails).
Strategies of a basket are read from the base table with consistent reads, never from GSI1,
which is eventually consistent on AWS.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

from pynamodb.connection import Connection
from pynamodb.exceptions import (
    DeleteError,
    GetError,
    PutError,
    PynamoDBConnectionError,
    QueryError,
    TransactWriteError,
    UpdateError,
)
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamo.models import (
    AccountItem,
    BaseItem,
    BasketItem,
    OAuthStateItem,
    ProfileItem,
    ScheduleItem,
    SessionItem,
    StrategyItem,
    transaction_connection,
    user_pk,
)
from chalicelib.domain.calendar import IST
from chalicelib.domain.schedule import ScheduleEntry, shard_of
from chalicelib.errors import ConcurrentChange, DependencyUnavailable, NotFound

log = logging.getLogger(__name__)
T = TypeVar("T", bound=BaseItem)
TRANSACTION_LIMIT = 100


def _system_now() -> datetime:
    return datetime.now(IST)


_stamp_clock: list[Callable[[], datetime]] = [_system_now]


def bind_clock(clock: Callable[[], datetime]) -> None:
    """Stamp ``created_at`` / ``updated_at`` from the platform's clock (called by the container).

    Like ``bind_table``, one binding per process: the stamps are what "today's" positions and
    orders are read by, so they must agree with the clock the rest of the platform runs on.
    """
    _stamp_clock[0] = clock


def now_iso() -> str:
    return _stamp_clock[0]().astimezone(IST).isoformat(timespec="milliseconds")


# A transaction cancelled because another one held an item is a lost race too: retrying it
# after a re-read is correct, and it says nothing about the datastore's health.
_RACE_REASONS = frozenset({"ConditionalCheckFailed", "TransactionConflict"})


def _lost_race(error: Exception) -> bool:
    cause = getattr(error, "cause_response_code", None)
    if cause in ("ConditionalCheckFailedException", "TransactionCanceledException"):
        reasons = getattr(error, "cancellation_reasons", None) or []
        return cause == "ConditionalCheckFailedException" or any(
            r is not None and r.code in _RACE_REASONS for r in reasons
        )
    return cause == "TransactionConflictException"


def guarded(call: Callable[[], T]) -> T:
    """Run a DynamoDB call; a lost conditional race is a Conflict, an outage is retryable."""
    try:
        return call()
    except (PutError, UpdateError, DeleteError, TransactWriteError) as error:
        if _lost_race(error):
            raise ConcurrentChange(
                "the item changed meanwhile (stale version or concurrent request); reload and retry",
                code="version_conflict",
            ) from error
        log.exception("dynamodb write failed")
        raise DependencyUnavailable("storage is unavailable; retry shortly") from error
    except (GetError, QueryError, PynamoDBConnectionError) as error:
        log.exception("dynamodb read failed")
        raise DependencyUnavailable("storage is unavailable; retry shortly") from error


class Repository:
    """Storage for profiles, accounts, baskets, strategies and their schedule entries."""

    def __init__(self, schedule_shards: int) -> None:
        self.schedule_shards = schedule_shards

    # -- plumbing ------------------------------------------------------------------------------
    def _connection(self) -> Connection:
        return transaction_connection()

    def _get(self, model: type[T], key: tuple[str, str]) -> T:
        def load() -> T:
            try:
                return model.get(*key, consistent_read=True)
            except model.DoesNotExist:
                raise NotFound(f"{model.__name__.removesuffix('Item').lower()} not found") from None

        return guarded(load)

    def _query_user(self, model: type[T], uid: str, prefix: str) -> list[T]:
        """A user's items of one kind: base-table Query, strongly consistent (a write that
        returned is always seen, which the basket and schedule invariants rely on)."""
        return guarded(
            lambda: list(
                model.query(user_pk(uid), BaseItem.sk.startswith(prefix), consistent_read=True)
            )
        )

    def _transact(self, write: Callable[[TransactWrite], None]) -> None:
        def run() -> None:
            with TransactWrite(connection=self._connection()) as transaction:
                write(transaction)

        guarded(run)

    # -- profiles ------------------------------------------------------------------------------
    def put_profile(self, item: ProfileItem) -> None:
        item.created_at = item.updated_at = now_iso()
        guarded(lambda: item.save(ProfileItem.pk.does_not_exist()))

    def get_profile(self, uid: str) -> ProfileItem:
        return self._get(ProfileItem, ProfileItem.key(uid))

    def save_profile(self, item: ProfileItem) -> None:
        item.updated_at = now_iso()
        guarded(lambda: item.save(ProfileItem.pk.exists()))

    # -- broker accounts -----------------------------------------------------------------------
    def put_account(self, item: AccountItem) -> None:
        item.created_at = item.updated_at = now_iso()
        guarded(lambda: item.save(AccountItem.pk.does_not_exist()))

    def save_account(self, item: AccountItem) -> None:
        item.updated_at = now_iso()
        guarded(lambda: item.save())

    def get_account(self, uid: str, account_id: str) -> AccountItem:
        return self._get(AccountItem, AccountItem.key(uid, account_id))

    def list_accounts(self, uid: str) -> list[AccountItem]:
        return self._query_user(AccountItem, uid, "ACCOUNT#")

    def delete_account(self, item: AccountItem) -> None:
        def write(tx: TransactWrite) -> None:
            tx.delete(item)
            tx.delete(SessionItem(*SessionItem.key(item.uid, item.account_id)))

        self._transact(write)

    def all_accounts(self) -> list[AccountItem]:
        return guarded(
            lambda: [
                item for item in BaseItem.gsi1.query("ACCOUNTS") if isinstance(item, AccountItem)
            ]
        )

    # -- broker sessions and pending logins ----------------------------------------------------
    def put_oauth_state(self, item: OAuthStateItem) -> None:
        item.created_at = now_iso()
        guarded(lambda: item.save(OAuthStateItem.pk.does_not_exist()))

    def take_oauth_state(self, state: str) -> OAuthStateItem | None:
        """Read and delete a pending login; the conditional delete makes a state work once."""
        try:
            item = self._get(OAuthStateItem, OAuthStateItem.key(state))
        except NotFound:
            return None
        try:
            item.delete(condition=OAuthStateItem.pk.exists())
        except DeleteError as error:
            if _lost_race(error):
                return None  # consumed by a concurrent callback
            raise DependencyUnavailable("storage is unavailable; retry shortly") from error
        return item

    def put_session(self, item: SessionItem) -> None:
        item.created_at = item.updated_at = now_iso()
        guarded(lambda: item.save())

    def sessions_of(self, uid: str) -> dict[str, SessionItem]:
        items = self._query_user(SessionItem, uid, "SESSION#")
        return {item.account_id: item for item in items}

    def get_session(self, uid: str, account_id: str) -> SessionItem | None:
        try:
            return self._get(SessionItem, SessionItem.key(uid, account_id))
        except NotFound:
            return None

    # -- baskets -------------------------------------------------------------------------------
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

    # -- the schedule index --------------------------------------------------------------------
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
