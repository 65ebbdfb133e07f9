"""Linking a Telegram chat to a user through the bot's deep link.

``link_url`` stores a one-time code (random, 32 URL-safe characters, valid ``ttl``) and answers
``https://t.me/<bot>?start=<code>``. Opening it makes Telegram send the bot ``/start <code>``,
which reaches ``handle_update`` through ``poll`` (getUpdates, locally) or the webhook route (AWS).
A code works once and only before it expires; the chat id is stored and the user told so.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from chalicelib.errors import Unprocessable
from chalicelib.ports.telegram_errors import TelegramError
from chalicelib.services.clock import Clock
from chalicelib.services.notifications.ports import NotificationStore, TelegramPort

log = logging.getLogger(__name__)
LINK_TTL = timedelta(minutes=15)
LINKED = "Linked: this chat now receives your optexec notifications."
EXPIRED = "This link has expired or was already used. Ask the app for a new one."


class TelegramLinking:
    def __init__(
        self,
        store: NotificationStore,
        bot: TelegramPort | None,
        clock: Clock,
        ttl: timedelta = LINK_TTL,
        new_code: Callable[[], str] = lambda: secrets.token_urlsafe(24),
    ) -> None:
        self.store, self.bot, self.clock, self.ttl, self.new_code = store, bot, clock, ttl, new_code

    def link_url(self, uid: str) -> dict[str, str]:
        if self.bot is None:
            raise Unprocessable(
                "Telegram is not configured on this deployment", code="telegram_not_configured"
            )
        code = self.new_code()
        expires_at = self.clock() + self.ttl
        self.store.put_link_code(code, uid, expires_at)
        return {"url": self.bot.deep_link(code), "expires_at": expires_at.isoformat()}

    def handle_update(self, update: Mapping[str, Any]) -> str | None:
        """Link the chat when the update is ``/start <valid code>``; the linked uid, else None."""
        message = update.get("message") or {}
        text = str(message.get("text") or "")
        chat_id = (message.get("chat") or {}).get("id")
        command, _, code = text.partition(" ")
        if chat_id is None or command.split("@")[0] != "/start" or not code.strip():
            return None
        taken = self.store.take_link_code(code.strip())
        if taken is None or taken[1] <= self.clock():
            self._reply(chat_id, EXPIRED)
            return None
        uid = taken[0]
        self.store.link_chat(uid, str(chat_id))
        log.info("telegram chat linked", extra={"user": uid})
        self._reply(chat_id, LINKED)
        return uid

    def poll(self) -> int:
        """One getUpdates pass (no long poll): handle each update, then confirm them all."""
        if self.bot is None:
            return 0
        offset = self.store.poll_offset()
        updates = self.bot.get_updates(offset, timeout=0)
        for update in updates:
            try:
                self.handle_update(update)
            except Exception:
                log.exception("telegram update failed", extra={"update": update.get("update_id")})
        if updates:
            self.store.save_poll_offset(max(int(u["update_id"]) for u in updates) + 1)
        return len(updates)

    def _reply(self, chat_id: int | str, text: str) -> None:
        assert self.bot is not None
        try:
            self.bot.send_message(chat_id, text)
        except TelegramError as error:
            log.warning("telegram reply failed", extra={"error": str(error)})
