"""The tick's batches on the single table (``ports/tick_batches.py``), over ``tick_items``."""

from __future__ import annotations

from datetime import datetime

from chalicelib.adapters.dynamo import tick_items
from chalicelib.adapters.dynamo.models import BaseItem, OrderItem, user_pk
from chalicelib.adapters.dynamo.repository import guarded
from chalicelib.ports.tick_batches import Refs


class DynamoTickBatches:
    def store_fire(self, run: str, batches: list[Refs], now: datetime, first: int = 0) -> list[int]:
        return tick_items.store(run, tick_items.FIRE, batches, now, first)

    def store_settle(
        self, run: str, batches: list[Refs], now: datetime, first: int = 0
    ) -> list[int]:
        return tick_items.store(run, tick_items.SETTLE, batches, now, first)

    def fire_refs(self, run: str, index: int) -> Refs:
        return tick_items.load(run, tick_items.FIRE, index)

    def orders(self, refs: Refs) -> list[OrderItem]:
        """One BatchGet (100 keys a request). A reference names its user (``uid``); one stored
        by an earlier release names the item's key (``pk``) instead."""
        keys = [(ref["pk"] if "pk" in ref else user_pk(ref["uid"]), ref["sk"]) for ref in refs]
        return [
            o
            for o in guarded(lambda: list(BaseItem.batch_get(keys, consistent_read=True)))
            if isinstance(o, OrderItem)
        ]

    def settle_refs(self, run: str, index: int) -> Refs:
        return tick_items.load(run, tick_items.SETTLE, index)
