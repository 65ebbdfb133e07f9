"""Notifications of the caller: the in-app history, preferences, and linking a Telegram chat.

Everything is read from and written to the caller's own partition; the webhook is the one public
route, authorised by the secret Telegram echoes in ``X-Telegram-Bot-Api-Secret-Token``.
"""

from __future__ import annotations

import hmac
from typing import Any

from chalice import Blueprint
from pydantic import BaseModel, ConfigDict

from chalicelib.api import responses as R
from chalicelib.api.routing import Request, route
from chalicelib.api.schemas import Strict
from chalicelib.domain.notifications import URGENT_KINDS, Preferences
from chalicelib.errors import NotFound, Unauthenticated, ValidationFailed

bp = Blueprint(__name__)
SECRET_HEADER = "x-telegram-bot-api-secret-token"


class PreferencesIn(Strict):
    channels: dict[str, list[str]]


class TelegramUpdateIn(BaseModel):
    """A Telegram Update: only ``update_id`` and ``message`` are read; other fields are kept."""

    model_config = ConfigDict(extra="allow")
    update_id: int
    message: dict[str, Any] | None = None


@route(bp, "/notifications", "GET", query=("limit",), response=R.NOTIFICATIONS)
def list_notifications(req: Request) -> dict[str, Any]:
    """The caller's notifications, newest first."""
    try:
        limit = max(1, min(int(req.query.get("limit") or 50), 200))
    except ValueError:
        raise ValidationFailed("limit must be a number", field="limit") from None
    return {"notifications": req.container.notifications.store.recent(req.uid, limit)}


@route(bp, "/notifications/preferences", "GET", response=R.NOTIFY_PREFERENCES)
def get_preferences(req: Request) -> dict[str, Any]:
    """Event kind -> channels, and whether a Telegram chat is linked."""
    return _preferences_view(req)


@route(bp, "/notifications/preferences", "PUT", body=PreferencesIn, response=R.NOTIFY_PREFERENCES)
def put_preferences(req: Request) -> dict[str, Any]:
    """Replace the caller's preferences (urgent kinds always go to every channel)."""
    try:
        preferences = Preferences.from_dict(req.body.channels)
    except ValueError as error:
        raise ValidationFailed(str(error), field="channels") from None
    req.container.notifications.store.save_preferences(req.uid, preferences)
    return _preferences_view(req)


@route(bp, "/notifications/telegram/link", "POST", response=R.TELEGRAM_LINK)
def telegram_link(req: Request) -> dict[str, str]:
    """The bot's deep link with a one-time code; opening it links the chat."""
    return req.container.notifications.linking.link_url(req.uid)


@route(bp, "/notifications/telegram/webhook", "POST", auth=False, body=TelegramUpdateIn)
def telegram_webhook(req: Request) -> dict[str, bool]:
    """Telegram's webhook (AWS): a ``/start <code>`` update links the chat."""
    secret = req.container.telegram_webhook_secret
    if not secret:
        raise NotFound("the Telegram webhook is not enabled")
    headers = {name.lower(): value for name, value in req.headers.items()}
    given = headers.get(SECRET_HEADER, "")
    if not hmac.compare_digest(given.encode(), secret.encode()):
        raise Unauthenticated("bad webhook secret")
    req.container.notifications.linking.handle_update(req.body.model_dump())
    return {"ok": True}


def _preferences_view(req: Request) -> dict[str, Any]:
    store = req.container.notifications.store
    return {
        "channels": store.preferences(req.uid).to_dict(),
        # Kinds that go to every channel whatever ``channels`` says (the web app greys them).
        "urgent": sorted(kind.value for kind in URGENT_KINDS),
        "telegram": {"linked": store.telegram_chat(req.uid) is not None},
    }
