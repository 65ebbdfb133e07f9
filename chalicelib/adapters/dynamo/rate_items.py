"""The order-rate log of one broker account, shared by every Lambda (docs/rate-limiting.md).

One item per account, ``PK=RATE#<account>``, ``SK=LOG``, holds the reservation times (epoch
seconds) of the last N order requests. A limiter reads it, reserves the next slot that keeps at
most N per window, and writes it back conditioned on the version it read (optimistic locking,
``VersionAttribute``): two Lambdas can never both take the same slot. ``ttl`` removes the items
of accounts that stopped trading.
"""

from __future__ import annotations

from pynamodb.attributes import ListAttribute, NumberAttribute, UnicodeAttribute, VersionAttribute

from chalicelib.adapters.dynamo.models import BaseItem


class RateLogItem(BaseItem, discriminator="RATE"):
    """The last N order-slot reservations of one broker account, ascending."""

    account_id = UnicodeAttribute()
    grants = ListAttribute(of=NumberAttribute, default=list)
    version = VersionAttribute()

    @staticmethod
    def key(account_id: str) -> tuple[str, str]:
        return f"RATE#{account_id}", "LOG"
