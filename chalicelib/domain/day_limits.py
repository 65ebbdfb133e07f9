"""An account's day limits: a loss limit and a profit target in rupees, on the day's P&L (pure).

The P&L is the one ``GET /pnl`` shows for the account: the positions this platform traded that
changed today, realised plus unrealised at the last price. Once either limit is crossed the
account is "done for the day": its positions are squared off and its entries refused until the
next trading day. The mark is stored on the account with its date, so a new day starts clean.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

LOSS = "LOSS"
PROFIT = "PROFIT"
#: Who engages the account's kill switch for a day limit (its ``engaged_by``).
DAY_LIMIT_ACTOR = "day-limit"
REASON_CODE = "day_limit_reached"


@dataclass(frozen=True)
class Leg:
    """One position's fills, in units and rupees (sell values positive)."""

    buy_quantity: int
    sell_quantity: int
    buy_value: Decimal
    sell_value: Decimal
    net_quantity: int


def leg_pnl(leg: Leg, ltp: Decimal | None) -> tuple[Decimal, Decimal | None]:
    """(realised, unrealised) of one position; unrealised is None when an open one has no
    price. Same arithmetic as the positions API: average prices, closed units realised."""
    buy_avg = leg.buy_value / leg.buy_quantity if leg.buy_quantity else None
    sell_avg = leg.sell_value / leg.sell_quantity if leg.sell_quantity else None
    closed = min(leg.buy_quantity, leg.sell_quantity)
    realised = Decimal(0)
    if closed and buy_avg is not None and sell_avg is not None:
        realised = (sell_avg - buy_avg) * closed
    if not leg.net_quantity:
        return realised, Decimal(0)
    open_avg = buy_avg if leg.net_quantity > 0 else sell_avg
    if ltp is None or open_avg is None:
        return realised, None
    return realised, (ltp - open_avg) * leg.net_quantity


def crossed(
    pnl: Decimal, loss_limit: Decimal | None, profit_target: Decimal | None
) -> tuple[str, Decimal] | None:
    """Which limit ``pnl`` reached, with its value: a loss at or beyond ``-loss_limit`` or a
    profit at or beyond ``profit_target``; None while inside both."""
    if loss_limit is not None and pnl <= -loss_limit:
        return LOSS, loss_limit
    if profit_target is not None and pnl >= profit_target:
        return PROFIT, profit_target
    return None


def describe(kind: str, limit: Decimal, pnl: Decimal) -> str:
    what = "daily loss limit" if kind == LOSS else "daily profit target"
    return f"{what} of Rs {limit:,.2f} reached: the day's P&L is Rs {pnl:,.2f}"


def reached_on(mark: Mapping[str, Any] | None, day: str) -> str | None:
    """The reason entries are refused on ``day`` when the account's stored mark is of that day."""
    if not mark or mark.get("date") != day:
        return None
    return str(mark.get("message") or "a day limit was reached")
