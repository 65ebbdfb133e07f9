"""Checks the planner makes on one due entry before building its orders: whether an account can
trade now, and whether today is one of the entry's days to expiry. Pure functions of what the
planner already read (no request of their own), so every part of a plan answers alike."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from chalicelib.domain.expiry import ExpiryChoice, trading_days_to_expiry
from chalicelib.domain.market_errors import MarketRuleError
from chalicelib.domain.market_model import MarketModel
from chalicelib.domain.underlying import Underlying


def unusable(found: tuple[Any, Any] | None, at: datetime) -> str | None:
    """Why an (account, session) pair cannot place at ``at`` (None: it can)."""
    if found is None:
        return "the account no longer exists"
    session = found[1]
    if session is None:
        return "no broker session: log in today"
    if datetime.fromisoformat(session.expires_at) <= at:
        return "the broker session has expired: log in again"
    return None


def not_a_dte_day(payload: dict[str, Any], day: date, market: MarketModel) -> str | None:
    """Why this entry does not run today under its days-to-expiry filter (None: it runs).
    A label that does not resolve is left to the build, which records that reason."""
    wanted = payload.get("dte")
    if wanted is None:
        return None
    underlying = Underlying(payload["underlying"])
    choice = ExpiryChoice(payload["expiry"])
    try:
        expiry = market.resolve_expiry(underlying, choice, day)
        away = trading_days_to_expiry(expiry, day)
    except MarketRuleError:
        return None
    if away in wanted:
        return None
    return (
        f"{away} trading days to the {expiry} expiry; this strategy enters only at "
        f"days to expiry {', '.join(str(d) for d in wanted)}"
    )
