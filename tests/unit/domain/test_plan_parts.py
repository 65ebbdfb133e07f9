"""Parts of a slot's plan: every uid in exactly one part, the parts even over Cognito's uids."""

from __future__ import annotations

import uuid
from collections import Counter

import pytest

from chalicelib.domain.plan_parts import MAX_PARTS, PlanPart, all_parts

ODD_UIDS = ["0", "3zz", "4", "4" * 40, "8", "c", "f", "ff", "user-00001", "Zed", "~", "é"]
COGNITO_UIDS = [
    str(uuid.UUID(int=n * 0x9E3779B97F4A7C15F39CC0605CEDC835 % 2**128)) for n in range(4000)
]


@pytest.mark.parametrize("count", range(1, MAX_PARTS + 1))
def test_every_uid_is_in_exactly_one_part(count):
    for uid in [*ODD_UIDS, *COGNITO_UIDS[:200]]:
        assert sum(part.holds(uid) for part in all_parts(count)) == 1, (uid, count)


def test_bounds_are_contiguous_and_open_at_both_ends():
    parts = all_parts(4)
    assert [(p.lower, p.upper) for p in parts] == [
        (None, "4"),
        ("4", "8"),
        ("8", "c"),
        ("c", None),
    ]
    assert PlanPart().whole and PlanPart().lower is None and PlanPart().upper is None
    assert [p.lower for p in all_parts(3)] == [None, "5", "a"]


def test_random_uids_spread_evenly_over_the_parts():
    spread = Counter(
        next(i for i, p in enumerate(all_parts(4)) if p.holds(u)) for u in COGNITO_UIDS
    )
    assert set(spread) == {0, 1, 2, 3}
    assert max(spread.values()) < 1.15 * len(COGNITO_UIDS) / 4


@pytest.mark.parametrize(("index", "count"), [(0, 0), (1, 1), (-1, 4), (4, 4), (0, MAX_PARTS + 1)])
def test_a_part_outside_its_plan_is_refused(index, count):
    with pytest.raises(ValueError):
        PlanPart(index, count)
