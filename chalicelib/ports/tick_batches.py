"""The tick's work lists (``jobs/tick.py``): the fire and settle batches a plan stores so that
the state machine carries only their indexes, and the orders a fire batch names.

A fire batch is a list of order references ``{"uid", "sk", "scheduled_at"}`` (an account's
orders together); a settle batch a list of execution references ``{"uid", "sk"}``. The DynamoDB
adapter is ``adapters/dynamo/tick_store.py`` (``tick_items``: one item per batch, TTL 2 days).
A batch that was never stored raises ``chalicelib.errors.NotFound``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from chalicelib.domain.records import OrderRecord

Refs = list[dict[str, Any]]


class TickBatches(Protocol):
    def store_fire(self, run: str, batches: list[Refs], now: datetime, first: int = 0) -> list[int]:
        """Store the fire batches as indexes ``first``, ``first + 1``, ...; returns them."""
        ...

    def store_settle(
        self, run: str, batches: list[Refs], now: datetime, first: int = 0
    ) -> list[int]:
        """Store the settle batches as indexes ``first``, ``first + 1``, ...; returns them."""
        ...

    def fire_refs(self, run: str, index: int) -> Refs:
        """The order references of one fire batch."""
        ...

    def orders(self, refs: Refs) -> list[OrderRecord]:
        """The referenced orders as they are now (strongly consistent; a missing one is left
        out)."""
        ...

    def settle_refs(self, run: str, index: int) -> Refs:
        """The execution references of one settle batch."""
        ...
