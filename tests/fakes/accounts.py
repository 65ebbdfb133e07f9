"""In-memory stores for the account and strategy use cases (``chalicelib/ports/accounts.py``).

``MemoryAccounts`` implements every protocol of that port with the semantics of the DynamoDB
``Repository``: records are copied in and out (a change counts only once saved), a versioned
record is saved and deleted on condition of the version read and its version moves by one, a
create refuses an existing key, a pending login is taken once, a strategy write checks the
basket's enabled flag and a joining strategy bumps the basket's version. A refused condition is
``ConcurrentChange``, a missing record ``NotFound``, exactly as the adapter's ``guarded`` maps them.

Two hooks let a test stage what only concurrency produces: ``before_next_write`` runs a change
"by another request" just before the next conditional write is checked (a lost race), and
``commit_then_fail`` makes the next write commit and then answer ``ConcurrentChange`` (a retried
request whose first attempt had committed).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from chalicelib.domain.schedule import ScheduleEntry
from chalicelib.errors import ConcurrentChange, NotFound
from tests.fakes.records import (
    Account,
    Basket,
    OAuthState,
    Profile,
    Schedule,
    Session,
    Strategy,
)

R = TypeVar("R")
Key = tuple[str, str]


def _race() -> ConcurrentChange:
    return ConcurrentChange(
        "the item changed meanwhile (stale version or concurrent request); reload and retry",
        code="version_conflict",
    )


class MemoryAccounts:
    """Profiles, accounts, sessions, pending logins, baskets, strategies and their schedules."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self.profiles: dict[str, Profile] = {}
        self.accounts: dict[Key, Account] = {}
        self.sessions: dict[Key, Session] = {}
        self.oauth_states: dict[str, OAuthState] = {}
        self.session_ttl: dict[Key, datetime] = {}
        self.baskets: dict[Key, Basket] = {}
        self.strategies: dict[Key, Strategy] = {}
        #: (uid, strategy_id) -> {(phase, weekday): the stored schedule entry}
        self.schedules: dict[Key, dict[Key, Schedule]] = {}
        self.writes = 0
        self._before_write: list[Callable[[], None]] = []
        self._fail_after_commit = 0

    # -- test hooks -----------------------------------------------------------------------------
    def before_next_write(self, change: Callable[[], None]) -> None:
        """Run ``change`` (another request's write) just before the next write is checked."""
        self._before_write.append(change)

    def commit_then_fail(self, times: int = 1) -> None:
        """The next ``times`` writes commit, then answer ConcurrentChange (a retry's echo)."""
        self._fail_after_commit = times

    def _write(self, check: Callable[[], None], commit: Callable[[], None]) -> None:
        """One atomic conditional write: every condition first, then every change."""
        if self._before_write:
            self._before_write.pop(0)()
        check()
        commit()
        self.writes += 1
        if self._fail_after_commit:
            self._fail_after_commit -= 1
            raise _race()

    def _now(self) -> str:
        return self.clock().isoformat(timespec="milliseconds")

    @staticmethod
    def _same_version(stored: Any | None, record: Any) -> None:
        """PynamoDB's version condition: equal to the version read (absent when it is None)."""
        if record.version is None:
            if stored is not None and stored.version is not None:
                raise _race()
        elif stored is None or stored.version != record.version:
            raise _race()

    @staticmethod
    def _out(record: R) -> R:
        return copy.deepcopy(record)

    # -- profiles (ProfileStore) ------------------------------------------------------------------
    def create_profile(self, uid: str, *, email: str, name: str, phone: str, state: str) -> Profile:
        now = self._now()
        item = Profile(sk="PROFILE", uid=uid, email=email, name=name, phone=phone, state=state,
                       created_at=now, updated_at=now)  # fmt: skip

        def check() -> None:
            if uid in self.profiles:
                raise _race()

        self._write(check, lambda: self.profiles.__setitem__(uid, self._out(item)))
        return item

    def get_profile(self, uid: str) -> Profile:
        if uid not in self.profiles:
            raise NotFound("profile not found")
        return self._out(self.profiles[uid])

    def save_profile(self, item: Profile) -> None:
        item.updated_at = self._now()

        def check() -> None:
            if item.uid not in self.profiles:
                raise _race()

        self._write(check, lambda: self.profiles.__setitem__(item.uid, self._out(item)))

    # -- accounts (AccountStore, AccountReader) ---------------------------------------------------
    def create_account(
        self,
        uid: str,
        account_id: str,
        *,
        broker: str,
        client_id: str,
        label: str,
        static_ip_note: str | None,
        secret_blob: dict[str, Any] | None,
        quote_account_id: str | None,
    ) -> Account:
        now = self._now()
        item = Account(
            sk=f"ACCOUNT#{account_id}", uid=uid, account_id=account_id, broker=broker,
            client_id=client_id, label=label, status="ACTIVE", static_ip_note=static_ip_note,
            secret_blob=secret_blob, quote_account_id=quote_account_id, created_at=now,
            updated_at=now,
        )  # fmt: skip

        def check() -> None:
            if (uid, account_id) in self.accounts:
                raise _race()

        def commit() -> None:
            item.version = 1
            self.accounts[(uid, account_id)] = self._out(item)

        self._write(check, commit)
        return item

    def get_account(self, uid: str, account_id: str) -> Account:
        if (uid, account_id) not in self.accounts:
            raise NotFound("account not found")
        return self._out(self.accounts[(uid, account_id)])

    def list_accounts(self, uid: str) -> list[Account]:
        return [self._out(a) for (owner, _), a in sorted(self.accounts.items()) if owner == uid]

    def save_account(self, item: Account) -> None:
        item.updated_at = self._now()
        key = (item.uid, item.account_id)

        def commit() -> None:
            item.version = (item.version or 0) + 1
            self.accounts[key] = self._out(item)

        self._write(lambda: self._same_version(self.accounts.get(key), item), commit)

    def delete_account(self, item: Account) -> None:
        key = (item.uid, item.account_id)

        def check() -> None:
            self._same_version(self.accounts.get(key), item)

        def commit() -> None:
            del self.accounts[key]
            self.sessions.pop(key, None)

        self._write(check, commit)

    # -- sessions and pending logins (SessionStore) -----------------------------------------------
    def get_session(self, uid: str, account_id: str) -> Session | None:
        found = self.sessions.get((uid, account_id))
        return None if found is None else self._out(found)

    def all_accounts(self) -> list[Account]:
        return [self._out(a) for _, a in sorted(self.accounts.items())]

    def sessions_of(self, uid: str) -> dict[str, Session]:
        return {a: self._out(s) for (owner, a), s in self.sessions.items() if owner == uid}

    def create_oauth_state(
        self, state: str, *, uid: str, account_id: str, broker: str, expires: datetime
    ) -> None:
        item = OAuthState(sk="STATE", uid=uid, account_id=account_id, broker=broker,
                          expires_at=expires.isoformat(), created_at=self._now())  # fmt: skip

        def check() -> None:
            if state in self.oauth_states:
                raise _race()

        self._write(check, lambda: self.oauth_states.__setitem__(state, item))

    def take_oauth_state(self, state: str) -> OAuthState | None:
        """The conditional delete: a state works once; a second callback finds nothing."""
        return self.oauth_states.pop(state, None)

    def store_session(
        self,
        uid: str,
        account_id: str,
        *,
        broker: str,
        sealed: dict[str, Any],
        expires: datetime,
    ) -> Session:
        now = self._now()
        item = Session(sk=f"SESSION#{account_id}", uid=uid, account_id=account_id, broker=broker,
                       sealed=sealed, expires_at=expires.isoformat(), created_at=now,
                       updated_at=now)  # fmt: skip

        def commit() -> None:
            self.sessions[(uid, account_id)] = self._out(item)
            self.session_ttl[(uid, account_id)] = expires + timedelta(days=7)

        self._write(lambda: None, commit)
        return item

    # -- baskets (BasketStore) --------------------------------------------------------------------
    def create_basket(self, uid: str, basket_id: str, *, name: str, enabled: bool) -> Basket:
        now = self._now()
        item = Basket(sk=f"BASKET#{basket_id}", uid=uid, basket_id=basket_id, name=name,
                      enabled=int(enabled), created_at=now, updated_at=now)  # fmt: skip

        def check() -> None:
            if (uid, basket_id) in self.baskets:
                raise _race()

        def commit() -> None:
            item.version = 1
            self.baskets[(uid, basket_id)] = self._out(item)

        self._write(check, commit)
        return item

    def get_basket(self, uid: str, basket_id: str) -> Basket:
        if (uid, basket_id) not in self.baskets:
            raise NotFound("basket not found")
        return self._out(self.baskets[(uid, basket_id)])

    def find_basket(self, uid: str, basket_id: str) -> Basket | None:
        found = self.baskets.get((uid, basket_id))
        return None if found is None else self._out(found)

    def list_baskets(self, uid: str) -> list[Basket]:
        return [self._out(b) for (owner, _), b in sorted(self.baskets.items()) if owner == uid]

    def delete_basket(self, item: Basket) -> None:
        key = (item.uid, item.basket_id)
        self._write(
            lambda: self._same_version(self.baskets.get(key), item),
            lambda: self.baskets.__delitem__(key),
        )

    def save_basket_with_schedules(
        self, basket: Basket, rewrites: Sequence[tuple[Strategy, list[ScheduleEntry]]]
    ) -> None:
        """One transaction here; the adapter chunks above 100 actions (the basket goes last)."""
        basket.updated_at = self._now()
        key = (basket.uid, basket.basket_id)

        def check() -> None:
            for strategy, _ in rewrites:
                self._same_version(self.strategies.get((strategy.uid, strategy.strategy_id)),
                                   strategy)  # fmt: skip
            self._same_version(self.baskets.get(key), basket)

        def commit() -> None:
            for strategy, puts in rewrites:
                self._rewrite_schedule(strategy, puts)
            basket.version = (basket.version or 0) + 1
            self.baskets[key] = self._out(basket)

        self._write(check, commit)

    # -- strategies (StrategyStore, StrategyReader) -----------------------------------------------
    def new_strategy(
        self, uid: str, strategy_id: str, *, basket_id: str, status: str, spec: dict[str, Any]
    ) -> Strategy:
        return Strategy(sk=f"STRATEGY#{strategy_id}", uid=uid, strategy_id=strategy_id,
                        basket_id=basket_id, status=status, spec=spec)  # fmt: skip

    def get_strategy(self, uid: str, strategy_id: str) -> Strategy:
        if (uid, strategy_id) not in self.strategies:
            raise NotFound("strategy not found")
        return self._out(self.strategies[(uid, strategy_id)])

    def find_strategy(self, uid: str, strategy_id: str) -> Strategy | None:
        found = self.strategies.get((uid, strategy_id))
        return None if found is None else self._out(found)

    def list_strategies(self, uid: str) -> list[Strategy]:
        return [self._out(s) for (owner, _), s in sorted(self.strategies.items()) if owner == uid]

    def strategies_of_basket(self, uid: str, basket_id: str) -> list[Strategy]:
        return [s for s in self.list_strategies(uid) if s.basket_id == basket_id]

    def save_strategy(
        self,
        strategy: Strategy,
        basket: Basket | None,
        puts: Iterable[ScheduleEntry],
        *,
        create: bool,
        joins: bool,
    ) -> None:
        puts = list(puts)
        if basket is None and puts:
            raise ValueError("a strategy without a basket cannot be scheduled")
        strategy.updated_at = self._now()
        if create:
            strategy.created_at = strategy.updated_at
        key = (strategy.uid, strategy.strategy_id)

        def check() -> None:
            if basket is not None:
                stored = self.baskets.get((basket.uid, basket.basket_id))
                if stored is None or stored.enabled != basket.enabled:
                    raise _race()
            if create and key in self.strategies:
                raise _race()
            self._same_version(self.strategies.get(key), strategy)

        def commit() -> None:
            if basket is not None and joins:
                stored = self.baskets[(basket.uid, basket.basket_id)]
                stored.updated_at = strategy.updated_at
                stored.version = (stored.version or 0) + 1
                basket.version = (basket.version or 0) + 1
            self._rewrite_schedule(strategy, puts)
            strategy.version = (strategy.version or 0) + 1
            self.strategies[key] = self._out(strategy)

        self._write(check, commit)

    def delete_strategy(self, strategy: Strategy) -> None:
        key = (strategy.uid, strategy.strategy_id)

        def commit() -> None:
            del self.strategies[key]
            self.schedules.pop(key, None)

        self._write(lambda: self._same_version(self.strategies.get(key), strategy), commit)

    def _rewrite_schedule(self, strategy: Strategy, puts: list[ScheduleEntry]) -> None:
        """Exactly ``puts`` remain, stamped with the version the strategy is being saved at."""
        self.schedules[(strategy.uid, strategy.strategy_id)] = {
            (e.phase.value, e.weekday.value): Schedule(
                sk=f"SCHED#{e.strategy_id}#{e.phase.value}#{e.weekday.value}",
                uid=strategy.uid,
                strategy_id=e.strategy_id,
                phase=e.phase.value,
                fire_time=e.fire_time,
                payload={**e.payload, "basket_id": strategy.basket_id},
                strategy_version=(strategy.version or 0) + 1,
                created_at=self._now(),
            )
            for e in puts
        }

    def schedule_of_strategy(self, uid: str, strategy_id: str) -> list[Schedule]:
        stored = self.schedules.get((uid, strategy_id), {})
        return [self._out(s) for _, s in sorted(stored.items())]

    # -- the schedule index (ScheduleReader) ------------------------------------------------------
    def user_schedule(self, uid: str) -> list[Schedule]:
        return [
            self._out(s)
            for (owner, _), entries in sorted(self.schedules.items())
            if owner == uid
            for _, s in sorted(entries.items())
        ]

    def due(self, weekday: str, hhmm: str) -> list[Schedule]:
        """Every user's entries at one IST weekday and minute (the GSI2 slot, all shards)."""
        return [
            self._out(s)
            for _, entries in sorted(self.schedules.items())
            for (_, day), s in sorted(entries.items())
            if day == weekday and s.fire_time[:2] + s.fire_time[3:5] == hhmm
        ]


class FakeCipher:
    """Seals as a readable envelope bound to its owner; opening another user's blob fails, as
    KMS refuses a mismatched encryption context."""

    def seal(self, secrets: dict[str, str], owner: str) -> dict[str, str]:
        return {"owner": owner, **{f"s:{k}": v for k, v in secrets.items()}}

    def open(self, blob: dict[str, Any], owner: str) -> dict[str, str]:
        if blob.get("owner") != owner:
            raise PermissionError("sealed for another owner")
        return {k[2:]: v for k, v in blob.items() if k.startswith("s:")}
