"""In-memory fakes of the notification ports (store, Telegram) and a manual monotonic clock."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.adapters.telegram import TelegramError
from chalicelib.domain.notifications import (
    Channel,
    EventKind,
    NotificationEvent,
    Preferences,
    StoredNotification,
    Urgency,
)


class MemoryStore:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.prefs: dict[str, Preferences] = {}
        self.chats: dict[str, str] = {}
        self.codes: dict[str, tuple[str, datetime]] = {}
        self.offset: int | None = None
        self.emails: dict[str, str] = {}
        self.unsent_due: dict[tuple[str, str], datetime] = {}  # the GSI2 unsent list
        self.resends: dict[tuple[str, str], int] = {}

    def record(
        self, event: NotificationEvent, text: str, recorded_at: datetime | None = None
    ) -> bool:
        if (event.uid, event.key) in self.items:
            return False
        self.items[(event.uid, event.key)] = {
            "id": event.key, "kind": event.kind.value, "text": text,
            "urgency": event.urgency.value,
            "occurred_at": event.occurred_at.isoformat(), "deliveries": {},
        }  # fmt: skip
        self.unsent_due[(event.uid, event.key)] = recorded_at or event.occurred_at
        return True

    def mark_delivery(self, uid: str, key: str, channel: Channel, status: str) -> None:
        self.items[(uid, key)]["deliveries"][channel.value] = status
        if channel is Channel.TELEGRAM:
            self.unsent_due.pop((uid, key), None)

    def settle(self, uid: str, key: str) -> None:
        self.unsent_due.pop((uid, key), None)

    def load(self, uid: str, key: str) -> StoredNotification | None:
        item = self.items.get((uid, key))
        if item is None:
            return None
        event = NotificationEvent(
            uid, EventKind(item["kind"]), key, datetime.fromisoformat(item["occurred_at"]),
            urgency=Urgency(item["urgency"]),
        )  # fmt: skip
        deliveries = item["deliveries"]
        return StoredNotification(
            event, item["text"], deliveries.get("telegram"), deliveries.get("email")
        )

    def unsent(self, before: datetime, limit: int = 100) -> list[tuple[str, str]]:
        due = sorted((at, k) for k, at in self.unsent_due.items() if at < before)
        return [k for _, k in due[:limit]]

    def postpone(self, uid: str, key: str, due: datetime, before: datetime) -> int:
        if (uid, key) not in self.unsent_due or self.unsent_due[(uid, key)] >= before:
            return 0
        self.unsent_due[(uid, key)] = due
        self.resends[(uid, key)] = self.resends.get((uid, key), 0) + 1
        return self.resends[(uid, key)]

    def delivery(self, uid: str, key: str) -> str | None:
        return self.items[(uid, key)]["deliveries"].get("telegram")

    def recent(self, uid: str, limit: int = 50) -> list[dict[str, Any]]:
        mine = [v for (u, _), v in self.items.items() if u == uid]
        return sorted(mine, key=lambda v: v["occurred_at"], reverse=True)[:limit]

    def preferences(self, uid: str) -> Preferences:
        return self.prefs.get(uid, Preferences())

    def save_preferences(self, uid: str, preferences: Preferences) -> None:
        self.prefs[uid] = preferences

    def telegram_chat(self, uid: str) -> str | None:
        return self.chats.get(uid)

    def email_address(self, uid: str) -> str | None:
        return self.emails.get(uid)

    def link_chat(self, uid: str, chat_id: str) -> None:
        self.chats[uid] = chat_id

    def put_link_code(self, code: str, uid: str, expires_at: datetime) -> None:
        assert code not in self.codes
        self.codes[code] = (uid, expires_at)

    def take_link_code(self, code: str) -> tuple[str, datetime] | None:
        return self.codes.pop(code, None)

    def poll_offset(self) -> int | None:
        return self.offset

    def save_poll_offset(self, offset: int) -> None:
        self.offset = offset


class ScriptedBot:
    """Records sends; ``script`` holds errors to raise on the next sends, in order."""

    username = "optexec_test_bot"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.script: list[TelegramError] = []
        self.updates: list[dict[str, Any]] = []
        self.offsets: list[int | None] = []

    def deep_link(self, code: str) -> str:
        return f"https://t.me/{self.username}?start={code}"

    def send_message(self, chat_id: int | str, text: str) -> dict[str, Any]:
        if self.script:
            raise self.script.pop(0)
        self.sent.append((str(chat_id), text))
        return {"message_id": len(self.sent)}

    def get_updates(self, offset: int | None = None, timeout: int = 0) -> list[dict[str, Any]]:
        self.offsets.append(offset)
        return [u for u in self.updates if offset is None or u["update_id"] >= offset]


class Ticker:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class ScriptedMailer:
    """Records e-mails; ``script`` holds errors to raise on the next sends, in order."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []
        self.script: list[Exception] = []

    def send(self, to: str, subject: str, text: str) -> None:
        if self.script:
            raise self.script.pop(0)
        self.sent.append((to, subject, text))
