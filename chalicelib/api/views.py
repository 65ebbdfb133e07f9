"""JSON views of stored records: what the API returns. Secrets never appear here."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.profile import Profile
from chalicelib.domain.records import AccountRecord, BasketRecord, StrategyRecord


def profile_view(profile: Profile) -> dict[str, Any]:
    return {
        "id": profile.uid,
        "email": profile.email,
        "name": profile.name,
        "phone": profile.phone,
        "state": profile.state,
    }


def day_limit_view(mark: dict[str, Any] | None) -> dict[str, Any] | None:
    """The day a limit was reached (entries refused that day), or None."""
    if not mark:
        return None
    return {k: mark.get(k) for k in ("date", "kind", "limit", "pnl", "at", "message")}


def account_view(item: AccountRecord, session: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "id": item.account_id,
        "broker": item.broker,
        "client_id": item.client_id,
        "label": item.label,
        "static_ip_note": item.static_ip_note,
        "status": item.status,
        "has_api_secret": item.secret_blob is not None,
        "quote_account_id": item.quote_account_id,
        "daily_loss_limit": item.daily_loss_limit,
        "daily_profit_target": item.daily_profit_target,
        "day_limit_reached": day_limit_view(item.day_limit),
        "session": session or {"status": "NONE", "expires_at": None},
        "version": item.version,
        "created_at": item.created_at,
        "updated_at": item.updated_at,
    }


def basket_view(item: BasketRecord) -> dict[str, Any]:
    return {
        "id": item.basket_id,
        "name": item.name,
        "enabled": bool(item.enabled),
        "version": item.version,
        "created_at": item.created_at,
        "updated_at": item.updated_at,
    }


def strategy_view(item: StrategyRecord) -> dict[str, Any]:
    return {
        "id": item.strategy_id,
        **item.spec,
        "status": item.status,
        "version": item.version,
        "created_at": item.created_at,
        "updated_at": item.updated_at,
    }
