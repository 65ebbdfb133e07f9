"""Notification storage: the in-app history (also the once-per-event gate), preferences, the
linked Telegram chat, one-time link codes and the getUpdates offset.

| item | PK | SK | notes |
|---|---|---|---|
| notification | `USER#<uid>` | `NOTIF#<idempotency key>` | conditional put = one per event; GSI1 `NOTIFS#<uid>` / `<occurred_at>#<key>` lists newest first; ttl 90 days |
| preferences | `USER#<uid>` | `NOTIFY#PREFS` | event kind -> channels |
| telegram chat | `USER#<uid>` | `NOTIFY#TELEGRAM` | the linked chat id |
| link code | `TGLINK#<code>` | `CODE` | uid, expires_at; taken once (conditional delete); ttl |
| poll offset | `TELEGRAM` | `POLL` | next getUpdates offset |
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DeleteError, PutError

from chalicelib.adapters.dynamo.models import BaseItem, ProfileItem, user_pk
from chalicelib.adapters.dynamo.repository import _lost_race, guarded, now_iso
from chalicelib.domain.notifications import Channel, NotificationEvent, Preferences
from chalicelib.errors import DependencyUnavailable

HISTORY_TTL = timedelta(days=90)


class NotificationItem(BaseItem, discriminator="NOTIF"):
    uid = UnicodeAttribute()
    key = UnicodeAttribute()
    kind = UnicodeAttribute()
    urgency = UnicodeAttribute()
    text = UnicodeAttribute()
    occurred_at = UnicodeAttribute()
    telegram = UnicodeAttribute(null=True)  # SENT | FAILED: <why> | SKIPPED: <why>
    email = UnicodeAttribute(null=True)  # the same, for the e-mail channel

    @staticmethod
    def key_of(uid: str, key: str) -> tuple[str, str]:
        return user_pk(uid), f"NOTIF#{key}"

    @staticmethod
    def history_key(uid: str, occurred_at: str = "", key: str = "") -> tuple[str, str]:
        return f"NOTIFS#{uid}", f"{occurred_at}#{key}" if occurred_at else ""


class NotifyPrefsItem(BaseItem, discriminator="NOTIFPREFS"):
    uid = UnicodeAttribute()
    channels = JSONAttribute()

    @staticmethod
    def key(uid: str) -> tuple[str, str]:
        return user_pk(uid), "NOTIFY#PREFS"


class TelegramChatItem(BaseItem, discriminator="TGCHAT"):
    uid = UnicodeAttribute()
    chat_id = UnicodeAttribute()

    @staticmethod
    def key(uid: str) -> tuple[str, str]:
        return user_pk(uid), "NOTIFY#TELEGRAM"


class TelegramLinkItem(BaseItem, discriminator="TGLINK"):
    uid = UnicodeAttribute()
    expires_at = UnicodeAttribute()

    @staticmethod
    def key(code: str) -> tuple[str, str]:
        return f"TGLINK#{code}", "CODE"


class TelegramPollItem(BaseItem, discriminator="TGPOLL"):
    offset = NumberAttribute()

    @staticmethod
    def key() -> tuple[str, str]:
        return "TELEGRAM", "POLL"


class DynamoNotificationStore:
    """One method per access pattern (the port ``NotificationStore``)."""

    def record(self, event: NotificationEvent, text: str) -> bool:
        """Store the notification; False when one with this key exists (a duplicate event)."""
        occurred = event.occurred_at.isoformat(timespec="milliseconds")
        item = NotificationItem(
            *NotificationItem.key_of(event.uid, event.key),
            uid=event.uid, key=event.key, kind=event.kind.value, urgency=event.urgency.value,
            text=text, occurred_at=occurred,
        )  # fmt: skip
        item.gsi1pk, item.gsi1sk = NotificationItem.history_key(event.uid, occurred, event.key)
        item.ttl = event.occurred_at + HISTORY_TTL
        item.created_at = item.updated_at = now_iso()
        try:
            item.save(NotificationItem.pk.does_not_exist())
        except PutError as error:
            if _lost_race(error):
                return False
            raise DependencyUnavailable("storage is unavailable; retry shortly") from error
        return True

    def mark_delivery(self, uid: str, key: str, channel: Channel, status: str) -> None:
        attribute = {
            Channel.TELEGRAM: NotificationItem.telegram,
            Channel.EMAIL: NotificationItem.email,
        }
        if channel not in attribute:
            raise ValueError(f"no delivery state is kept for {channel}")
        item = NotificationItem(*NotificationItem.key_of(uid, key))
        guarded(lambda: item.update(actions=[attribute[channel].set(status)]))

    def recent(self, uid: str, limit: int = 50) -> list[dict[str, Any]]:
        hash_key, _ = NotificationItem.history_key(uid)

        def query() -> list[Any]:
            return list(BaseItem.gsi1.query(hash_key, scan_index_forward=False, limit=limit))

        return [
            {
                "id": i.key,
                "kind": i.kind,
                "urgency": i.urgency,
                "text": i.text,
                "occurred_at": i.occurred_at,
                "deliveries": {
                    name: value
                    for name, value in (("telegram", i.telegram), ("email", i.email))
                    if value is not None
                },
            }
            for i in guarded(query)
            if isinstance(i, NotificationItem)
        ]

    def preferences(self, uid: str) -> Preferences:
        item = self._get(NotifyPrefsItem, NotifyPrefsItem.key(uid))
        return Preferences() if item is None else Preferences.from_dict(item.channels)

    def save_preferences(self, uid: str, preferences: Preferences) -> None:
        item = NotifyPrefsItem(*NotifyPrefsItem.key(uid), uid=uid, channels=preferences.to_dict())
        item.updated_at = now_iso()
        guarded(lambda: item.save())

    def telegram_chat(self, uid: str) -> str | None:
        item = self._get(TelegramChatItem, TelegramChatItem.key(uid))
        return None if item is None else item.chat_id

    def email_address(self, uid: str) -> str | None:
        """The trader's sign-up address (their profile), where e-mail notifications go."""
        profile = self._get(ProfileItem, ProfileItem.key(uid))
        return None if profile is None else str(profile.email or "") or None

    def link_chat(self, uid: str, chat_id: str) -> None:
        item = TelegramChatItem(*TelegramChatItem.key(uid), uid=uid, chat_id=chat_id)
        item.created_at = item.updated_at = now_iso()
        guarded(lambda: item.save())

    def put_link_code(self, code: str, uid: str, expires_at: datetime) -> None:
        item = TelegramLinkItem(
            *TelegramLinkItem.key(code), uid=uid, expires_at=expires_at.isoformat()
        )
        item.ttl = expires_at + timedelta(days=1)
        item.created_at = now_iso()
        guarded(lambda: item.save(TelegramLinkItem.pk.does_not_exist()))

    def take_link_code(self, code: str) -> tuple[str, datetime] | None:
        """Read and delete a link code; a code works once even when two updates race."""
        item = self._get(TelegramLinkItem, TelegramLinkItem.key(code))
        if item is None:
            return None
        try:
            item.delete(condition=TelegramLinkItem.pk.exists())
        except DeleteError as error:
            if _lost_race(error):
                return None
            raise DependencyUnavailable("storage is unavailable; retry shortly") from error
        return item.uid, datetime.fromisoformat(item.expires_at)

    def poll_offset(self) -> int | None:
        item = self._get(TelegramPollItem, TelegramPollItem.key())
        return None if item is None else int(item.offset)

    def save_poll_offset(self, offset: int) -> None:
        item = TelegramPollItem(*TelegramPollItem.key(), offset=offset)
        item.updated_at = now_iso()
        guarded(lambda: item.save())

    @staticmethod
    def _get(model: Any, key: tuple[str, str]) -> Any:
        def load() -> Any:
            try:
                return model.get(*key, consistent_read=True)
            except model.DoesNotExist:
                return None

        return guarded(load)
