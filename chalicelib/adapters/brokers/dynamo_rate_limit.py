"""The order-rate limiter across processes: the sliding log of ``rate_limit`` kept in DynamoDB.

Fire Lambdas for one slot run side by side and may all place orders on the same broker account;
an in-process limiter cannot see the others. This limiter keeps each account's last N
reservation times in one item (``rate_items.RateLogItem``) and reserves a slot with a
read-then-conditional-write on the item's version, retrying on a lost race. It uses wall-clock
epoch time (Lambda clocks are NTP-synchronised to a few ms) and widens the window by ``margin``
to absorb that skew. Cost: one consistent GetItem + one conditional PutItem per order request.

Reserved budgets (``reserve``): before T a firer reserves all of an account's slots for the slot
with one read and one conditional write, so at T its orders take their slots from memory and none
waits on the table. A reserved slot ``m`` is written to the log as ``m + hold``: the process may
send in ``[m, m + hold]`` (its requests go one after another, each taking the broker's latency),
and every other process paces itself as if it had sent at the latest allowed instant. Within the
budget the process also paces on its actual send times (never more than N in a window); a send
that could not leave within ``hold`` of its slot gives the rest of the budget up and goes through
the table like any other. Unused reserved slots are simply wasted capacity, never excess.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pynamodb.exceptions import DoesNotExist, PutError

from chalicelib.adapters.brokers.rate_limit import DEFAULT_RATE, checked_rate, next_slot
from chalicelib.adapters.dynamo.rate_items import RateLogItem
from chalicelib.ports.broker_errors import RateLimited

log = logging.getLogger(__name__)
CONDITION_FAILED = "ConditionalCheckFailedException"
#: A budget serves callers from this long before the instant it was reserved from (T); earlier
#: callers (another job placing on the account before T) go through the table. A caller takes
#: the next reserved slot and sleeps until it.
EARLY_TAKE = 0.25


@dataclass
class _Budget:
    """One account's reserved slots in this process, and the times they were really taken."""

    slots: deque[float]
    hold: float
    #: The instant the budget was reserved from (T): it serves requests from then on.
    start: float
    taken: deque[float] = field(default_factory=deque)

    def take(self, now: float, rate: int, window: float) -> float | None:
        """The instant the next request may leave, or None when the budget cannot serve it."""
        if not self.slots or now < self.start - EARLY_TAKE:
            return None
        reserved = self.slots.popleft()
        slot = max(now, reserved)
        if len(self.taken) >= rate:
            slot = max(slot, self.taken[-rate] + window)
        if slot > reserved + self.hold:
            self.slots.clear()  # too late for what the log promised the others
            return None
        self.taken.append(slot)
        return slot


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
        hold: float = 0.5,
    ) -> None:
        self.rate = checked_rate(rate)
        self.window = window + margin
        self._clock = clock
        self._sleep = sleep
        self._max_races = max_races
        self._keep_for = keep_for
        self.hold = hold
        self._budgets: dict[str, _Budget] = {}
        self._budget_lock = threading.Lock()

    def reserve(self, account: str, count: int, start_in: float = 0.0) -> list[float]:
        """Reserve ``count`` slots from ``start_in`` seconds from now with one conditional write
        (plus one per lost race); ``acquire`` then serves them from memory. Returns the slots."""
        if count <= 0:
            return []
        start = self._clock() + start_in  # T itself: not moved later by the read's latency
        for race in range(self._max_races):
            item = self._load(account)
            logged = [float(g) for g in item.grants or []]
            timeline = list(logged)  # others' upper bounds, then our true slots
            slots: list[float] = []
            for _ in range(count):
                slot = next_slot(timeline, start, self.rate, self.window)
                timeline.append(slot)
                slots.append(slot)
            item.grants = [*logged, *(s + self.hold for s in slots)][-self.rate :]
            item.ttl = datetime.fromtimestamp(slots[-1] + self._keep_for, tz=UTC)
            if not _won(item, account, race, "budget"):
                continue
            with self._budget_lock:
                self._budgets[account] = _Budget(deque(slots), self.hold, start)
            return slots
        raise RateLimited(
            f"could not reserve {count} order slots for {account} after {self._max_races} races",
            broker="limiter",
        )

    def acquire(self, account: str) -> float:
        """This account's next slot: from its reserved budget when one can serve it, otherwise
        reserved in the shared log; then sleep until it."""
        slot = self._from_budget(account)
        if slot is not None:
            wait = slot - self._clock()
            if wait > 0:
                self._sleep(wait)
            return slot
        return self._acquire_from_table(account)

    def book(self, account: str) -> float | None:
        """The next slot from the account's reserved budget without waiting: seconds until it;
        None when only the table can grant one (the caller then uses ``acquire``)."""
        slot = self._from_budget(account)
        return None if slot is None else max(0.0, slot - self._clock())

    def _from_budget(self, account: str) -> float | None:
        with self._budget_lock:
            budget = self._budgets.get(account)
            slot = budget.take(self._clock(), self.rate, self.window) if budget else None
            if budget is not None and not budget.slots:
                del self._budgets[account]
        return slot

    def _acquire_from_table(self, account: str) -> float:
        for race in range(self._max_races):
            item = self._load(account)
            now = self._clock()
            grants = [float(g) for g in item.grants or []]
            slot = next_slot(grants, now, self.rate, self.window)
            item.grants = [*grants, slot][-self.rate :]
            item.ttl = datetime.fromtimestamp(slot + self._keep_for, tz=UTC)
            if not _won(item, account, race, "slot"):
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


def _won(item: RateLogItem, account: str, race: int, what: str) -> bool:
    """Save the log under its version condition; False when another process wrote it first (the
    caller reads it again and retries), any other failure raised."""
    try:
        item.save()
    except PutError as exc:
        if exc.cause_response_code != CONDITION_FAILED:
            raise
        log.debug("rate %s race lost", what, extra={"account": account, "race": race})
        return False
    return True
