"""Day limits (pure): which limit a day's P&L crosses, the P&L of one position, and a mark that
refuses entries only on its own day."""

from __future__ import annotations

from decimal import Decimal

from chalicelib.domain.day_limits import LOSS, PROFIT, Leg, crossed, describe, leg_pnl, reached_on


def test_crossing_either_limit_at_or_beyond_it():
    assert crossed(Decimal(-999), Decimal(1000), None) is None
    assert crossed(Decimal(-1000), Decimal(1000), None) == (LOSS, Decimal(1000))
    assert crossed(Decimal(2500), Decimal(1000), Decimal(2500)) == (PROFIT, Decimal(2500))
    assert crossed(Decimal("2499.5"), None, Decimal(2500)) is None
    assert crossed(Decimal(-(10**6)), None, None) is None


def test_leg_pnl_realised_and_unrealised():
    short = Leg(0, 75, Decimal(0), Decimal(7500), -75)  # sold 75 at 100
    assert leg_pnl(short, Decimal(120)) == (Decimal(0), Decimal(-1500))
    assert leg_pnl(short, None) == (Decimal(0), None)  # unpriced: not judged
    closed = Leg(75, 75, Decimal(9000), Decimal(7500), 0)  # bought back at 120
    assert leg_pnl(closed, None) == (Decimal(-1500), Decimal(0))


def test_a_mark_refuses_entries_only_on_its_day():
    mark = {"date": "2026-11-25", "message": describe(LOSS, Decimal(1000), Decimal("-1012.5"))}
    assert "daily loss limit of Rs 1,000.00" in str(reached_on(mark, "2026-11-25"))
    assert reached_on(mark, "2026-11-26") is None
    assert reached_on(None, "2026-11-25") is None
