"""Which stored positions a kill switch or an exit may close (positions are not per day)."""

from __future__ import annotations

from datetime import date

import pytest

from chalicelib.adapters.dynamo.models import PositionItem
from chalicelib.services.closing import still_held

TODAY = date(2026, 11, 25)


def _position(product: str, expiry: str, updated: str) -> PositionItem:
    return PositionItem(
        "USER#u", "POS#s#a#x", uid="u", strategy_id="s", account_id="a", symbol="x",
        contract={"product": product, "expiry": expiry}, net_quantity=65,
        updated_at=f"{updated}T15:10:00.000+05:30",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("product", "expiry", "updated", "held"),
    [
        ("MIS", "2026-12-01", "2026-11-25", True),  # today's intraday position
        ("MIS", "2026-12-01", "2026-11-24", False),  # squared off by the broker yesterday
        ("NRML", "2026-12-01", "2026-11-24", True),  # carried overnight: still held
        ("NRML", "2026-11-24", "2026-11-20", False),  # expired: no longer exists
        ("NRML", "2026-11-25", "2026-11-20", True),  # expires today: still tradable
    ],
)
def test_a_position_is_held_only_if_the_broker_can_still_hold_it(product, expiry, updated, held):
    assert still_held(_position(product, expiry, updated), TODAY) is held
