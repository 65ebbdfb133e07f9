"""Parts of a tick's plan: the users of a slot split by key range, so that several planners
(one plan Lambda each on AWS) share one minute without ever sharing a user.

Why by user, not by GSI2 shard: the shard is a hash of (user, strategy), so one user's
strategies, and therefore one broker account's orders, can sit in several shards. The fire
batches keep every order of an account together (BUY before SELL across the account's
strategies, one rate budget per account), which a planner can only do if it holds all of the
account's orders. The schedule index's sort key starts with the uid
(``GSI2SK = <uid>#<strategy>#<phase>``), so a part reads exactly its users with a key condition
on that sort key in each shard's Query: no item is read twice and none is filtered out.

Uids are Cognito subs (random UUIDs), uniform over their first hex digit, so the parts split
the hex digits evenly. Part 0 is open below and the last part open above: any uid, hex or not,
falls in exactly one part (an uneven spread of uids only unbalances the parts).
"""

from __future__ import annotations

from dataclasses import dataclass

HEX = "0123456789abcdef"
#: More parts than first hex digits would leave some parts empty by construction.
MAX_PARTS = len(HEX)


@dataclass(frozen=True)
class PlanPart:
    """Part ``index`` of ``count`` (0-based); ``PlanPart(0, 1)`` is the whole slot."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.count <= MAX_PARTS:
            raise ValueError(f"a plan has 1 to {MAX_PARTS} parts, not {self.count}")
        if not 0 <= self.index < self.count:
            raise ValueError(f"part {self.index} is not one of 0..{self.count - 1}")

    @property
    def whole(self) -> bool:
        return self.count == 1

    @property
    def lower(self) -> str | None:
        """Smallest sort key (inclusive) of this part, None for the first part."""
        return None if self.index == 0 else _bound(self.index, self.count)

    @property
    def upper(self) -> str | None:
        """Bound (exclusive) of this part's sort keys, None for the last part."""
        return None if self.index == self.count - 1 else _bound(self.index + 1, self.count)

    def holds(self, uid: str) -> bool:
        """Whether this part plans ``uid``. The bounds are single characters, so comparing the
        uid gives the same answer as comparing its sort keys (``<uid>#...``)."""
        lower, upper = self.lower, self.upper
        return (lower is None or uid >= lower) and (upper is None or uid < upper)


def _bound(index: int, count: int) -> str:
    return HEX[index * len(HEX) // count]


def all_parts(count: int) -> list[PlanPart]:
    return [PlanPart(index, count) for index in range(count)]
