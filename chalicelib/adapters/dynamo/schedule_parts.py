"""One part of a slot's schedule (domain/plan_parts.py): the same Query per GSI2 shard as
``Repository.due``, with a key condition on the sort key (``<uid>#<strategy>#<phase>``) so
that each part reads only its own users."""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.dynamo.models import GSI2, BaseItem, ScheduleItem
from chalicelib.adapters.dynamo.repository import guarded
from chalicelib.domain.plan_parts import PlanPart


def due_in_part(shards: int, weekday: str, hhmm: str, part: PlanPart) -> list[ScheduleItem]:
    """Everything due at one IST minute for the users of ``part``: one Query per shard."""
    condition = _sort_key_condition(part)
    items: list[ScheduleItem] = []
    for shard in range(shards):
        slot = ScheduleItem.slot_key(weekday, hhmm, shard)
        found = guarded(lambda slot=slot: list(BaseItem.gsi2.query(slot, condition)))
        items.extend(item for item in found if isinstance(item, ScheduleItem))
    return items


def _sort_key_condition(part: PlanPart) -> Any:
    key = GSI2.gsi2sk
    lower, upper = part.lower, part.upper
    if lower is None and upper is None:
        return None
    if lower is None:
        return key < upper
    if upper is None:
        return key >= lower
    # BETWEEN is inclusive, but no sort key equals a one-character bound (they hold '#'):
    # every key starting with the upper bound's character sorts above it, in the next part.
    return key.between(lower, upper)
