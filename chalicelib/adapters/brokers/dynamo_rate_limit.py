"""The order-rate limiter across processes: the sliding log of ``rate_limit`` kept in DynamoDB.

Fire Lambdas for one slot run side by side and may all place orders on the same broker account;
an in-process limiter cannot see the others. This limiter keeps each account's last N
reservation times in one item (``rate_items.RateLogItem``) and reserves a slot with a
read-then-conditional-write on the item's version, retrying on a lost race. It uses wall-clock
epoch time (Lambda clocks are NTP-synchronised to a few ms) and widens the window by ``margin``
to absorb that skew. Cost: one consistent GetItem + one conditional PutItem per order request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from pynamodb.exceptions import DoesNotExist, PutError

from chalicelib.adapters.brokers.errors import RateLimited
from chalicelib.adapters.brokers.rate_limit import DEFAULT_RATE, checked_rate, next_slot
from chalicelib.adapters.dynamo.rate_items import RateLogItem

log = logging.getLogger(__name__)
CONDITION_FAILED = "ConditionalCheckFailedException"


class DynamoRateLimiter:
    """Per-account limiter shared by every process that uses the same table."""

    def __init__(
        self,
        rate: int = DEFAULT_RATE,
        *,
        window: float = 1.0,
        margin: float = 0.05,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        max_races: int = 50,
        keep_for: float = 2 * 86400,
    ) -> None:
        self.rate = checked_rate(rate)
        self.window = window + margin
        self._clock = clock
        self._sleep = sleep
        self._max_races = max_races
        self._keep_for = keep_for

    def acquire(self, account: str) -> float:
        """Reserve this account's next slot in the shared log, then sleep until it."""
        for race in range(self._max_races):
            item = self._load(account)
            now = self._clock()
            grants = [float(g) for g in item.grants or []]
            slot = next_slot(grants, now, self.rate, self.window)
            item.grants = [*grants, slot][-self.rate :]
            item.ttl = datetime.fromtimestamp(slot + self._keep_for, tz=UTC)
            try:
                item.save()
            except PutError as exc:
                if exc.cause_response_code != CONDITION_FAILED:
                    raise
                log.debug("rate slot race lost", extra={"account": account, "race": race})
                continue
            wait = slot - self._clock()
            if wait > 0:
                self._sleep(wait)
            return slot
        raise RateLimited(
            f"could not reserve an order slot for {account} after {self._max_races} races",
            broker="limiter",
        )

    @staticmethod
    def _load(account: str) -> RateLogItem:
        pk, sk = RateLogItem.key(account)
        try:
            return RateLogItem.get(pk, sk, consistent_read=True)
        except DoesNotExist:
            return RateLogItem(pk, sk, account_id=account)
