"""The stores of the account and strategy use cases: profiles, broker accounts and their sessions,
baskets, strategies (with their schedule entries).

Each protocol holds only what its service calls, named for the use case. The DynamoDB
``Repository`` (``adapters/dynamo/repository.py``) satisfies all of them structurally; the
in-memory fakes of ``tests/fakes/accounts.py`` do too, with the same conditional semantics.

Creating a record goes through a ``create_*`` method (the store builds its keys); changing one is
"read, set attributes, ``save_*``": the save is conditioned on the version read (a versioned
record) or on the record's existence, so a concurrent change fails it with ``ConcurrentChange``
and the service re-reads (``services/races.py``). Reads of a missing record raise ``NotFound``
(``get_*``) or answer None (``find_*``); an outage is ``DependencyUnavailable``.

A record given back to a ``save_*`` / ``delete_*`` method must be one the same store returned
(each store takes back its own kind of record, which is why those parameters are ``Any``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from chalicelib.domain.records import (
    AccountRecord,
    BasketRecord,
    OAuthStateRecord,
    ProfileRecord,
    ScheduleRecord,
    SessionRecord,
    StrategyRecord,
)
from chalicelib.domain.schedule import ScheduleEntry


class ProfileStore(Protocol):
    def create_profile(
        self, uid: str, *, email: str, name: str, phone: str, state: str
    ) -> ProfileRecord:
        """Store a new user's profile; ``ConcurrentChange`` if the user already has one."""
        ...

    def get_profile(self, uid: str) -> ProfileRecord: ...

    def save_profile(self, item: Any) -> None:
        """Save a profile read by ``get_profile``; ``NotFound``-like refusal if it is gone."""
        ...


class AccountReader(Protocol):
    """A user's accounts and sessions as read (broker access, quote choice, readiness)."""

    def get_account(self, uid: str, account_id: str) -> AccountRecord: ...

    def list_accounts(self, uid: str) -> Sequence[AccountRecord]: ...

    def get_session(self, uid: str, account_id: str) -> SessionRecord | None: ...

    def sessions_of(self, uid: str) -> dict[str, SessionRecord]: ...


class AccountRoster(Protocol):
    """Every broker account of every user with their sessions (the 08:30 readiness check)."""

    def all_accounts(self) -> Sequence[AccountRecord]: ...

    def sessions_of(self, uid: str) -> dict[str, SessionRecord]: ...


class AccountStore(Protocol):
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
    ) -> AccountRecord:
        """Store a new account; ``ConcurrentChange`` if the id is taken."""
        ...

    def get_account(self, uid: str, account_id: str) -> AccountRecord: ...

    def list_accounts(self, uid: str) -> Sequence[AccountRecord]: ...

    def save_account(self, item: Any) -> None:
        """Save an account read by ``get_account``, on condition of the version read."""
        ...

    def delete_account(self, item: Any) -> None:
        """Delete the account and its session together."""
        ...

    def list_strategies(self, uid: str) -> Sequence[StrategyRecord]:
        """The user's strategies (an account some strategy trades on cannot be deleted)."""
        ...

    def get_session(self, uid: str, account_id: str) -> SessionRecord | None: ...

    def sessions_of(self, uid: str) -> dict[str, SessionRecord]: ...


class SessionStore(Protocol):
    """Daily broker logins: the pending login state and the session it yields."""

    def get_account(self, uid: str, account_id: str) -> AccountRecord: ...

    def list_accounts(self, uid: str) -> Sequence[AccountRecord]: ...

    def sessions_of(self, uid: str) -> dict[str, SessionRecord]: ...

    def create_oauth_state(
        self, state: str, *, uid: str, account_id: str, broker: str, expires: datetime
    ) -> None:
        """Store a pending login under ``state``; ``ConcurrentChange`` if the state exists."""
        ...

    def take_oauth_state(self, state: str) -> OAuthStateRecord | None:
        """Read and delete a pending login: a state works once; None when unknown or taken."""
        ...

    def store_session(
        self,
        uid: str,
        account_id: str,
        *,
        broker: str,
        sealed: dict[str, Any],
        expires: datetime,
    ) -> SessionRecord:
        """Store an account's session, replacing the one before."""
        ...


class StrategyStore(Protocol):
    """Strategies and their schedule entries, written together with the basket gate."""

    def find_basket(self, uid: str, basket_id: str) -> BasketRecord | None: ...

    def list_accounts(self, uid: str) -> Sequence[AccountRecord]: ...

    def new_strategy(
        self, uid: str, strategy_id: str, *, basket_id: str, status: str, spec: dict[str, Any]
    ) -> StrategyRecord:
        """A strategy record not stored yet (``save_strategy(..., create=True)`` stores it)."""
        ...

    def get_strategy(self, uid: str, strategy_id: str) -> StrategyRecord: ...

    def find_strategy(self, uid: str, strategy_id: str) -> StrategyRecord | None: ...

    def list_strategies(self, uid: str) -> Sequence[StrategyRecord]: ...

    def strategies_of_basket(self, uid: str, basket_id: str) -> Sequence[StrategyRecord]:
        """Read consistently: a basket writer sees every strategy that joined before."""
        ...

    def save_strategy(
        self,
        strategy: Any,
        basket: BasketRecord | None,
        puts: Iterable[ScheduleEntry],
        *,
        create: bool,
        joins: bool,
    ) -> None:
        """Write the strategy and exactly ``puts`` as its schedule, atomically.

        Refused (``ConcurrentChange``) when the strategy's version moved (or, on create, the id
        exists) or the basket's enabled flag is no longer the one read; a strategy that
        ``joins`` the basket bumps the basket's version. ``basket`` None: nothing scheduled.
        """
        ...

    def delete_strategy(self, strategy: Any) -> None:
        """Delete the strategy (at the version read) and every schedule entry it has."""
        ...


class BasketStore(Protocol):
    def create_basket(
        self, uid: str, basket_id: str, *, name: str, enabled: bool
    ) -> BasketRecord: ...

    def get_basket(self, uid: str, basket_id: str) -> BasketRecord: ...

    def list_baskets(self, uid: str) -> Sequence[BasketRecord]: ...

    def strategies_of_basket(self, uid: str, basket_id: str) -> Sequence[StrategyRecord]: ...

    def save_basket_with_schedules(
        self,
        basket: Any,
        rewrites: Sequence[tuple[StrategyRecord, list[ScheduleEntry]]],
    ) -> None:
        """Save the basket (on its version read) and rewrite its strategies' schedules, each
        strategy on its version read; a strategy that joined or changed meanwhile refuses."""
        ...

    def delete_basket(self, item: Any) -> None:
        """Delete on condition of the version read (a strategy joining bumps it)."""
        ...


class ScheduleReader(Protocol):
    """The schedule index as the planner reads it, for the trader's own view of it."""

    def user_schedule(self, uid: str) -> Sequence[ScheduleRecord]: ...

    def due(self, weekday: str, hhmm: str) -> Sequence[ScheduleRecord]:
        """Everything due at one IST weekday and minute, every user's (the planner's read)."""
        ...


class StrategyReader(Protocol):
    """What the preview reads: the strategy and the user's accounts."""

    def get_strategy(self, uid: str, strategy_id: str) -> StrategyRecord: ...

    def list_accounts(self, uid: str) -> Sequence[AccountRecord]: ...
