"""An in-memory close-lease store (``chalicelib/ports/leases.py``) with the DynamoDB store's
conditions: take when free, expired or already ours; drop only by the owner."""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass
class Lease:
    owner: str
    expires_at: float


class FakeLeaseStore:
    def __init__(self) -> None:
        self._leases: dict[tuple[str, str, str], Lease] = {}
        self._lock = threading.Lock()

    def take(
        self, uid: str, strategy_id: str, account_id: str, owner: str, now: float, ttl: float
    ) -> bool:
        key = (uid, strategy_id, account_id)
        with self._lock:
            held = self._leases.get(key)
            if held is not None and held.expires_at > now and held.owner != owner:
                return False
            self._leases[key] = Lease(owner, now + ttl)
            return True

    def drop(self, uid: str, strategy_id: str, account_id: str, owner: str) -> bool:
        key = (uid, strategy_id, account_id)
        with self._lock:
            held = self._leases.get(key)
            if held is None or held.owner != owner:
                return False
            del self._leases[key]
            return True

    def holder(self, uid: str, strategy_id: str, account_id: str) -> Lease | None:
        with self._lock:
            held = self._leases.get((uid, strategy_id, account_id))
            return None if held is None else Lease(held.owner, held.expires_at)
