"""An in-memory ``TickBatches`` (``chalicelib/ports/tick_batches.py``): batches keyed by run,
kind and index as the table keys them (a second store of the same index replaces it), orders
looked up by (uid, sk), and NotFound for a batch never stored."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.errors import NotFound
from chalicelib.ports.tick_batches import Refs


class FakeTickBatches:
    def __init__(self, orders: dict[tuple[str, str], Any] | None = None) -> None:
        self.batches: dict[tuple[str, str, int], Refs] = {}
        #: (uid, sk) -> order record, what ``orders`` reads
        self.order_records = orders if orders is not None else {}

    def store_fire(self, run: str, batches: list[Refs], now: datetime, first: int = 0) -> list[int]:
        return self._store(run, "FIRE", batches, first)

    def store_settle(
        self, run: str, batches: list[Refs], now: datetime, first: int = 0
    ) -> list[int]:
        return self._store(run, "SETTLE", batches, first)

    def fire_refs(self, run: str, index: int) -> Refs:
        return self._load(run, "FIRE", index)

    def settle_refs(self, run: str, index: int) -> Refs:
        return self._load(run, "SETTLE", index)

    def orders(self, refs: Refs) -> list[Any]:
        found = (self.order_records.get((ref["uid"], ref["sk"])) for ref in refs)
        return [order for order in found if order is not None]

    def _store(self, run: str, kind: str, batches: list[Refs], first: int) -> list[int]:
        for index, refs in enumerate(batches, start=first):
            self.batches[(run, kind, index)] = [dict(ref) for ref in refs]
        return list(range(first, first + len(batches)))

    def _load(self, run: str, kind: str, index: int) -> Refs:
        try:
            return [dict(ref) for ref in self.batches[(run, kind, index)]]
        except KeyError:
            raise NotFound(f"tick batch {kind} #{index} of {run} not found") from None
