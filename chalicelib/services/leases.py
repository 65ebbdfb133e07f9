"""Close leases: the one rule that serialises every actor that closes positions.

The kill switch, the exit at T, the risk monitor's closes (stop, target, MTM) and re-entries all
act on the same (user, strategy, account). Each of them, before it decides what to close, takes
the lease for that triple; it then reads what is held with strongly consistent reads, sends, and
releases. Two actors can therefore never both decide on the same stale positions.

Usage (the whole API)::

    leases = container.leases
    if leases.acquire(uid, strategy_id, account_id, owner="risk:<book>:<guard>", ttl=30):
        try:
            ...  # read positions (consistent), cancel / settle what is in flight, close the rest
        finally:
            leases.release(uid, strategy_id, account_id, owner="risk:<book>:<guard>")
    # else: another actor is closing; try again on the next cycle

or ``with leases.held(uid, strategy_id, account_id, owner, ttl) as ok: ...``.

Owners are free-form strings naming the actor and its operation (``kill:<op>``,
``exit:<execution>``); taking a lease you already hold renews it. ``ttl`` bounds how long a crashed
holder blocks the others: pick it longer than your own act (send + settle), never "forever".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from chalicelib.ports.leases import LeaseStore
from chalicelib.services.clock import Clock

log = logging.getLogger(__name__)
DEFAULT_TTL = 30.0


@dataclass
class Leases:
    store: LeaseStore
    clock: Clock
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic

    def acquire(
        self, uid: str, strategy_id: str, account_id: str, owner: str, ttl: float = DEFAULT_TTL
    ) -> bool:
        """Take (or renew) the close lease for ``ttl`` seconds; False when another owner holds it."""
        taken = self.store.take(uid, strategy_id, account_id, owner, self._now(), ttl)
        if not taken:
            log.info(
                "close lease busy",
                extra={"user": uid, "strategy": strategy_id, "account": account_id, "owner": owner},
            )
        return taken

    def release(self, uid: str, strategy_id: str, account_id: str, owner: str) -> bool:
        """Give the lease back; False when ``owner`` no longer held it (it had expired)."""
        return self.store.drop(uid, strategy_id, account_id, owner)

    def release_family(self, uid: str, strategy_id: str, account_id: str, prefix: str) -> bool:
        """Give the lease back if an owner named ``prefix...`` holds it (the exit at T's guard
        calls each own theirs); the drop is conditioned on the exact owner read."""
        holder = self.store.holder(uid, strategy_id, account_id)
        owner = str(getattr(holder, "owner", "") or "")
        if not owner.startswith(prefix):
            return False
        return self.store.drop(uid, strategy_id, account_id, owner)

    def wait(
        self,
        uid: str,
        strategy_id: str,
        account_id: str,
        owner: str,
        ttl: float = DEFAULT_TTL,
        *,
        patience: float,
        every: float = 0.25,
    ) -> bool:
        """``acquire``, retried every ``every`` seconds for up to ``patience`` seconds."""
        deadline = self.monotonic() + patience
        while True:
            if self.acquire(uid, strategy_id, account_id, owner, ttl):
                return True
            if self.monotonic() >= deadline:
                return False
            self.sleep(every)

    @contextmanager
    def held(
        self, uid: str, strategy_id: str, account_id: str, owner: str, ttl: float = DEFAULT_TTL
    ) -> Iterator[bool]:
        """Yields whether the lease was taken; releases it on the way out if it was."""
        taken = self.acquire(uid, strategy_id, account_id, owner, ttl)
        try:
            yield taken
        finally:
            if taken:
                self.release(uid, strategy_id, account_id, owner)

    def _now(self) -> float:
        return self.clock().timestamp()
