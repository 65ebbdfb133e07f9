"""A tick's work lists, stored so that Step Functions carries only references to them.

A Step Functions state's input and output are capped at 256 KiB; one order reference is about
150 bytes, so a tick of a few thousand orders no longer fits in the state machine. The planner
stores each fire batch (order keys) and each settle batch (execution keys) as one item and the state
machine passes ``(run, index)`` pairs: its payload stays the same size whatever the tick's.

``PK = TICK#<run>``, ``SK = FIRE#<index>`` or ``SETTLE#<index>``; ``run`` is the slot plus a random
token per plan call, so a second plan of the same slot never overwrites the first's batches. Items
expire two days later (DynamoDB TTL); an item holds at most a few hundred references, far under
DynamoDB's 400 KB item limit (tests/integration/test_infra_apply.py measures both).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pynamodb.attributes import JSONAttribute, UnicodeAttribute

from chalicelib.adapters.dynamo.models import BaseItem
from chalicelib.adapters.dynamo.repository import guarded
from chalicelib.errors import NotFound

KEEP_FOR = timedelta(days=2)
FIRE = "FIRE"
SETTLE = "SETTLE"


class TickBatchItem(BaseItem, discriminator="TICK_BATCH"):
    """The references one fire or settle Lambda of a tick works on."""

    run = UnicodeAttribute()
    kind = UnicodeAttribute()  # FIRE (order keys) | SETTLE (execution keys)
    refs = JSONAttribute()

    @staticmethod
    def key(run: str, kind: str, index: int) -> tuple[str, str]:
        return f"TICK#{run}", f"{kind}#{index:04d}"


def store(
    run: str, kind: str, batches: list[list[dict[str, Any]]], now: datetime, first: int = 0
) -> list[int]:
    """Write every batch (one BatchWriteItem per 25); returns the indexes the Map state iterates,
    from ``first`` on (each part of a plan numbers its batches in its own range of one run)."""

    def write() -> None:
        with TickBatchItem.batch_write() as writer:
            for index, refs in enumerate(batches, start=first):
                pk, sk = TickBatchItem.key(run, kind, index)
                item = TickBatchItem(pk, sk, run=run, kind=kind, refs=refs)
                item.ttl = now + KEEP_FOR
                item.created_at = now.isoformat()
                writer.save(item)

    if batches:
        guarded(write)
    return list(range(first, first + len(batches)))


def load(run: str, kind: str, index: int) -> list[dict[str, Any]]:
    """The references of one batch (a strongly consistent read: it was written a minute ago)."""
    pk, sk = TickBatchItem.key(run, kind, index)
    found = guarded(
        lambda: list(TickBatchItem.query(pk, TickBatchItem.sk == sk, consistent_read=True))
    )
    if not found:
        raise NotFound(f"tick batch {kind} #{index} of {run} not found")
    return list(found[0].refs)
