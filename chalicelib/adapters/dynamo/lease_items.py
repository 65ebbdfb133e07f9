"""Close leases: at most one actor closes a strategy's positions on one account at a time.

``PK = USER#<uid>``, ``SK = LEASE#<strategy>#<account>``. Taking the lease is one conditional put
that succeeds when nobody holds it, when the holder's lease has expired, or when the caller already
holds it (re-entrant: the holder renews by taking it again). Releasing is a delete conditioned on
the owner, so a holder whose lease expired and was taken over cannot release the new holder's.
Expiry is compared on the caller's clock (epoch seconds); DynamoDB's TTL only sweeps old items.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DeleteError, GetError, PutError

from chalicelib.adapters.dynamo.models import BaseItem, user_pk
from chalicelib.adapters.dynamo.repository import _lost_race, now_iso
from chalicelib.errors import DependencyUnavailable

SWEEP_AFTER = timedelta(days=1)  # DynamoDB TTL removes stale lease items a day later


class LeaseItem(BaseItem, discriminator="LEASE"):
    """Who may close (strategy, account) now, and until when (epoch seconds)."""

    uid = UnicodeAttribute()
    strategy_id = UnicodeAttribute()
    account_id = UnicodeAttribute()
    owner = UnicodeAttribute()
    expires_at = NumberAttribute()

    @staticmethod
    def key(uid: str, strategy_id: str, account_id: str) -> tuple[str, str]:
        return user_pk(uid), f"LEASE#{strategy_id}#{account_id}"


class LeaseRepository:
    """The two conditional writes of a lease, and a strongly consistent read of its holder."""

    def take(
        self, uid: str, strategy_id: str, account_id: str, owner: str, now: float, ttl: float
    ) -> bool:
        """Hold the lease until ``now + ttl``; False when another owner holds an unexpired one."""
        item = LeaseItem(
            *LeaseItem.key(uid, strategy_id, account_id),
            uid=uid,
            strategy_id=strategy_id,
            account_id=account_id,
            owner=owner,
            expires_at=now + ttl,
            ttl=datetime.fromtimestamp(now, UTC) + SWEEP_AFTER,
        )
        item.created_at = item.updated_at = now_iso()
        free = (
            LeaseItem.pk.does_not_exist()
            | (LeaseItem.expires_at <= now)
            | (LeaseItem.owner == owner)
        )
        try:
            item.save(condition=free)
        except PutError as error:
            if _lost_race(error):
                return False
            raise DependencyUnavailable("storage is unavailable; retry shortly") from error
        return True

    def drop(self, uid: str, strategy_id: str, account_id: str, owner: str) -> bool:
        """Release; False when ``owner`` does not hold it (expired and taken, or never held)."""
        item = LeaseItem(*LeaseItem.key(uid, strategy_id, account_id))
        try:
            item.delete(condition=LeaseItem.owner == owner)
        except DeleteError as error:
            if _lost_race(error):
                return False
            raise DependencyUnavailable("storage is unavailable; retry shortly") from error
        return True

    def holder(self, uid: str, strategy_id: str, account_id: str) -> LeaseItem | None:
        try:
            return LeaseItem.get(*LeaseItem.key(uid, strategy_id, account_id), consistent_read=True)
        except LeaseItem.DoesNotExist:
            return None
        except GetError as error:
            raise DependencyUnavailable("storage is unavailable; retry shortly") from error
