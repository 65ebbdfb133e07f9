"""The close-lease store: at most one actor closes a (user, strategy, account) at a time.

``services/leases.py`` is the rule every closer follows; this is the storage it needs, implemented
by ``adapters/dynamo/lease_items.LeaseRepository`` (one conditional put, one conditional delete)
and in memory by ``tests/fakes/leases.py``. Semantics both keep:

* ``take`` succeeds when nobody holds the lease, when the holder's lease expired (``expires_at <=
  now``, on the caller's clock, epoch seconds) or when ``owner`` already holds it (a renewal);
* ``drop`` succeeds only for the current owner, so a holder whose lease expired and was taken over
  cannot release the new holder's;
* a storage outage raises (``chalicelib.errors.DependencyUnavailable``), never a silent False.
"""

from __future__ import annotations

from typing import Protocol


class LeaseHolder(Protocol):
    owner: str
    expires_at: float


class LeaseStore(Protocol):
    def take(
        self, uid: str, strategy_id: str, account_id: str, owner: str, now: float, ttl: float
    ) -> bool: ...

    def drop(self, uid: str, strategy_id: str, account_id: str, owner: str) -> bool: ...

    def holder(self, uid: str, strategy_id: str, account_id: str) -> LeaseHolder | None:
        """The current holder, read strongly consistent (None: never taken or released)."""
        ...
