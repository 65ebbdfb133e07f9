"""What the notification services need from storage and from the Telegram Bot API."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Protocol

from chalicelib.domain.notifications import (
    Channel,
    NotificationEvent,
    Preferences,
    StoredNotification,
)


class NotificationStore(Protocol):
    def record(
        self, event: NotificationEvent, text: str, recorded_at: datetime | None = None
    ) -> bool: ...
    def mark_delivery(self, uid: str, key: str, channel: Channel, status: str) -> None: ...
    def settle(self, uid: str, key: str) -> None: ...
    def load(self, uid: str, key: str) -> StoredNotification | None: ...
    def unsent(self, before: datetime, limit: int = 100) -> list[tuple[str, str]]: ...
    def postpone(self, uid: str, key: str, due: datetime, before: datetime) -> int: ...
    def recent(self, uid: str, limit: int = 50) -> list[dict[str, Any]]: ...
    def preferences(self, uid: str) -> Preferences: ...
    def save_preferences(self, uid: str, preferences: Preferences) -> None: ...
    def telegram_chat(self, uid: str) -> str | None: ...
    def email_address(self, uid: str) -> str | None: ...
    def link_chat(self, uid: str, chat_id: str) -> None: ...
    def put_link_code(self, code: str, uid: str, expires_at: datetime) -> None: ...
    def take_link_code(self, code: str) -> tuple[str, datetime] | None: ...
    def poll_offset(self) -> int | None: ...
    def save_poll_offset(self, offset: int) -> None: ...


class TelegramPort(Protocol):
    username: str

    def deep_link(self, code: str) -> str: ...
    def send_message(self, chat_id: int | str, text: str) -> dict[str, Any]: ...
    def get_updates(self, offset: int | None = None, timeout: int = 0) -> list[dict[str, Any]]: ...


class DeliveryQueue(Protocol):
    """Where a recorded notification waits for its delivery in another process (SQS on AWS): the
    message names the notification only (user and key), never its text or a secret."""

    def send(self, uid: str, key: str, *, delay: float = 0, attempts: int = 0) -> None: ...


def message_body(uid: str, key: str, attempts: int = 0) -> str:
    """A delivery queue message: the notification's id and the sends tried, nothing else."""
    return json.dumps({"uid": uid, "key": key, "attempts": attempts}, separators=(",", ":"))


def parse_body(body: str) -> tuple[str, str, int]:
    """(uid, key, attempts) of a delivery queue message; ValueError for anything else."""
    try:
        message = json.loads(body)
        uid, key = str(message["uid"]), str(message["key"])
        attempts = int(message.get("attempts", 0))
    except (TypeError, KeyError, ValueError) as error:
        raise ValueError(f"not a notification message: {error}") from None
    if not uid or not key:
        raise ValueError("not a notification message: empty uid or key")
    return uid, key, attempts


class EmailError(Exception):
    """A message SES did not take; ``retryable`` when a later attempt may get past it."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class MailerPort(Protocol):
    """One plain-text e-mail (SES on AWS and on the emulator)."""

    def send(self, to: str, subject: str, text: str) -> None: ...
