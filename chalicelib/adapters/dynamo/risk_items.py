"""Risk books: one item per (user, trading date, strategy) holding every guarded leg of the day.

One item, not one per leg, because the rules span legs (move-to-cost, MTM exits) and every
transition must be atomic across them: the item's version is the lock. A monitor decides on what
it read, claims the transition with a conditional write on the version, and only then talks to
the broker; a second monitor (two clocks, an overlapping Lambda) loses the write and does
nothing. A book is 1-2 KB per guarded leg and account, far below the 400 KB item limit.

Live books carry a sparse GSI1 key ``RISKLIVE#<date>#<shard>``, so the monitor finds every live
book of the day with one Query per shard whatever the number of users; a finished book drops
the key and leaves the index.
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import JSONAttribute, UnicodeAttribute, VersionAttribute
from pynamodb.exceptions import PutError

from chalicelib.adapters.dynamo.event_items import execution_events
from chalicelib.adapters.dynamo.models import BaseItem, ExecutionItem, user_pk
from chalicelib.adapters.dynamo.repository import _lost_race, guarded, now_iso
from chalicelib.domain.risk_book import DONE, FROZEN, LIVE
from chalicelib.domain.schedule import shard_of
from chalicelib.errors import Conflict, DependencyUnavailable

__all__ = ["DONE", "FROZEN", "LIVE", "RiskBookItem", "RiskRepository"]


class RiskBookItem(BaseItem, discriminator="RISKBOOK"):
    uid = UnicodeAttribute()
    strategy_id = UnicodeAttribute()
    trade_date = UnicodeAttribute()
    execution = UnicodeAttribute()  # the ENTRY execution's SK: events and orders attach there
    status = UnicodeAttribute()  # LIVE | FROZEN (exit / kill switch took over) | DONE
    exit_time = UnicodeAttribute()  # HH:MM:SS IST: nothing new is started from then on
    rules = JSONAttribute()  # the strategy's legs and risk, as armed
    guards = JSONAttribute()  # one document per guarded (account, leg, cycle)
    mtm = JSONAttribute(null=True)  # peaks per scope, exits taken
    version = VersionAttribute()

    @staticmethod
    def key(uid: str, trade_date: str, strategy_id: str) -> tuple[str, str]:
        return user_pk(uid), f"RISK#{trade_date}#{strategy_id}"

    @staticmethod
    def live_key(trade_date: str, shard: int) -> str:
        return f"RISKLIVE#{trade_date}#{shard}"


class RiskRepository:
    def __init__(self, shards: int) -> None:
        self.shards = shards

    def create_book(
        self,
        uid: str,
        trade_date: str,
        strategy_id: str,
        *,
        execution: str,
        exit_time: str,
        rules: dict[str, Any],
        guards: list[dict[str, Any]],
        mtm: dict[str, Any],
    ) -> RiskBookItem | None:
        """A new LIVE book (``ports.risk.RiskBookStore``); None when one exists already."""
        item = RiskBookItem(
            *RiskBookItem.key(uid, trade_date, strategy_id),
            uid=uid,
            strategy_id=strategy_id,
            trade_date=trade_date,
            execution=execution,
            status=LIVE,
            exit_time=exit_time,
            rules=rules,
            guards=guards,
            mtm=mtm,
        )
        return item if self.create(item) else None

    def create(self, item: RiskBookItem) -> bool:
        """Store a new book; False when one exists already (armed by someone else)."""
        item.gsi1pk = RiskBookItem.live_key(
            item.trade_date, shard_of(item.uid, item.strategy_id, self.shards)
        )
        item.gsi1sk = f"{item.uid}#{item.strategy_id}"
        item.created_at = item.updated_at = now_iso()
        try:
            item.save(RiskBookItem.pk.does_not_exist())
        except PutError as error:
            if _lost_race(error):
                return False
            raise DependencyUnavailable("storage is unavailable; retry shortly") from error
        return True

    def save(self, item: RiskBookItem) -> bool:
        """Write the book if nobody changed it since it was read; False when somebody did."""
        if item.status == DONE:
            item.gsi1pk = item.gsi1sk = None
        elif item.gsi1pk is None:  # live again (a freeze handed guards back to the monitor)
            item.gsi1pk = RiskBookItem.live_key(
                item.trade_date, shard_of(item.uid, item.strategy_id, self.shards)
            )
            item.gsi1sk = f"{item.uid}#{item.strategy_id}"
        item.updated_at = now_iso()
        try:
            guarded(lambda: item.save())
        except Conflict:
            return False
        return True

    def get(self, uid: str, trade_date: str, strategy_id: str) -> RiskBookItem | None:
        def load() -> RiskBookItem | None:
            try:
                return RiskBookItem.get(
                    *RiskBookItem.key(uid, trade_date, strategy_id), consistent_read=True
                )
            except RiskBookItem.DoesNotExist:
                return None

        return guarded(load)

    def of_user(self, uid: str, trade_date: str) -> list[RiskBookItem]:
        return guarded(
            lambda: list(
                RiskBookItem.query(user_pk(uid), BaseItem.sk.startswith(f"RISK#{trade_date}#"))
            )
        )

    def events(self, execution: ExecutionItem) -> list[dict[str, Any]]:
        """The execution's events in order (risk events are their own items: event_items)."""
        return execution_events(execution)

    def live(self, trade_date: str) -> list[RiskBookItem]:
        """Every live book of the day: one Query per shard (eventually consistent; the version
        check on write catches a stale read)."""
        found: list[RiskBookItem] = []
        for shard in range(self.shards):
            key = RiskBookItem.live_key(trade_date, shard)
            found += [
                item
                for item in guarded(lambda k=key: list(BaseItem.gsi1.query(k)))  # type: ignore[misc]
                if isinstance(item, RiskBookItem)
            ]
        return found
