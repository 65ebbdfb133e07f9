"""A ready broker adapter for one (user, account): credentials and session opened, paced, bound.

Everything that sends or reads orders (planner, firer, settlement, kill switch) goes through here,
so every adapter of a process comes from one factory, which shares the per-account order-rate
limiter and one HTTP client per broker between them (``adapters/brokers/pooled.py``). A missing or expired session is a clear ``DomainError`` naming
the account, never an adapter failing later at the first order.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib.domain.brokers import PAPER
from chalicelib.domain.calendar import IST
from chalicelib.domain.records import AccountRecord, SessionRecord
from chalicelib.errors import Unprocessable
from chalicelib.ports.accounts import AccountReader
from chalicelib.ports.broker import Broker, Credentials, Session
from chalicelib.ports.broker_factory import BrokerFactory
from chalicelib.ports.secrets import Cipher
from chalicelib.services.clock import Clock


class SessionUnavailable(Unprocessable):
    """The account cannot trade now: never logged in, or the broker session has expired."""

    code = "no_session"

    def __init__(self, message: str, *, account_id: str, code: str | None = None) -> None:
        super().__init__(message, field="account_id", code=code)
        self.account_id = account_id


class BrokerNotConfigured(SessionUnavailable):
    """The deployment has no host for the account's broker (a paper account without the
    simulator's URL): that account cannot trade, everyone else's tick goes on."""

    code = "broker_not_configured"


@dataclass
class BrokerAccess:
    """Builds adapters for stored accounts; one instance per process (see ``container.py``)."""

    repo: AccountReader
    cipher: Cipher
    hosts: Mapping[str, Mapping[str, str]]
    clock: Clock
    #: Builds the dialect's adapter with the process's shared HTTP client and order-rate
    #: limiter (``adapters/brokers/pooled.py``).
    build: BrokerFactory
    #: Builds a paper account's broker on the platform's own book (None: paper is a dialect
    #: pointed at the simulator, ``PAPER_ENGINE=sim``). Given the account and its opened session.
    paper: Callable[[AccountRecord, Session], Any] | None = None

    def adapter(self, uid: str, account_id: str) -> Broker:
        """The caller's account, logged in. ``NotFound`` for another user's account."""
        account = self.repo.get_account(uid, account_id)
        return self.adapter_for(account, self.repo.get_session(uid, account_id))

    def adapter_for(self, account: AccountRecord, session: SessionRecord | None) -> Broker:
        """An adapter from items already read (the planner batch-reads sessions per tick)."""
        opened = self.session_of(account, session)
        if account.broker == PAPER.name and self.paper is not None:
            adapter: Any = self.paper(account, opened)
            return adapter
        try:
            adapter = self.build(
                account.broker,
                self.credentials(account),
                account=account.account_id,
                hosts=self.hosts.get(account.broker),
                now=self.clock,
            )
        except ValueError as error:  # e.g. paper without the simulator's URL configured
            raise BrokerNotConfigured(
                f"account {account.account_id} ({account.broker}) cannot be reached from this "
                f"deployment: {error}",
                account_id=account.account_id,
            ) from error
        return adapter.with_session(opened)

    def session_of(self, account: AccountRecord, item: SessionRecord | None) -> Session:
        """The opened session, refused when absent or past the broker's expiry."""
        if item is None:
            raise SessionUnavailable(
                f"account {account.account_id} ({account.broker}) has no broker session: "
                "log in with GET /accounts/{id}/login",
                account_id=account.account_id,
            )
        expires = datetime.fromisoformat(item.expires_at).astimezone(IST)
        if self.clock() >= expires:
            raise SessionUnavailable(
                f"the {account.broker} session of account {account.account_id} expired at "
                f"{expires.isoformat()}: log in again",
                account_id=account.account_id,
                code="session_expired",
            )
        sealed = self.cipher.open(item.sealed, owner=account.uid)
        extra = {k: v for k, v in sealed.items() if k not in ("access_token", "user_id")}
        return Session(
            broker=account.broker,
            access_token=sealed["access_token"],
            expires_at=expires,
            user_id=sealed.get("user_id", ""),
            extra=extra,
        )

    def credentials(self, account: AccountRecord) -> Credentials:
        """The account's API app credentials (order calls need the key; logins the secret too)."""
        sealed: dict[str, Any] = (
            self.cipher.open(account.secret_blob, owner=account.uid) if account.secret_blob else {}
        )
        extra = {k: v for k, v in sealed.items() if k not in ("api_key", "api_secret")}
        return Credentials(
            api_key=sealed.get("api_key", ""),
            api_secret=sealed.get("api_secret", ""),
            client_id=account.client_id,
            extra=extra,
        )


@dataclass
class CachedAccess:
    """``BrokerAccess.adapter`` remembered for ``ttl`` seconds per (user, account).

    The price monitor asks for the same accounts every second; building an adapter reads the
    account and its session and opens both with KMS, which at one cycle a second would cost two
    reads and two decrypts per account per second. A minute-old adapter is as good: sessions
    last the trading day.
    """

    access: BrokerAccess
    ttl: float = 60.0
    monotonic: Callable[[], float] = time.monotonic
    _cache: dict[tuple[str, str], tuple[float, Any]] = field(default_factory=dict, repr=False)

    def adapter(self, uid: str, account_id: str) -> Broker:
        key = (uid, account_id)
        hit = self._cache.get(key)
        if hit is not None and self.monotonic() - hit[0] < self.ttl:
            return hit[1]  # failures are not remembered: a new login is seen next cycle
        adapter = self.access.adapter(uid, account_id)
        self._cache[key] = (self.monotonic(), adapter)
        return adapter
