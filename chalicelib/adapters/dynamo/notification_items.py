"""Notification storage: the in-app history (also the once-per-event gate), preferences, the
linked Telegram chat, one-time link codes and the getUpdates offset.

| item | PK | SK | notes |
|---|---|---|---|
| notification | `USER#<uid>` | `NOTIF#<idempotency key>` | conditional put = one per event; GSI1 `NOTIFS#<uid>` / `<occurred_at>#<key>` lists newest first; ttl 90 days; GSI2 `NOTIFY#UNSENT` / `<due>#<uid>#<key>` (sparse) until Telegram is settled |
| preferences | `USER#<uid>` | `NOTIFY#PREFS` | event kind -> channels |
| telegram chat | `USER#<uid>` | `NOTIFY#TELEGRAM` | the linked chat id |
| link code | `TGLINK#<code>` | `CODE` | uid, expires_at; taken once (conditional delete); ttl |
| poll offset | `TELEGRAM` | `POLL` | next getUpdates offset |
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DeleteError, PutError, UpdateError

from chalicelib.adapters.dynamo.models import BaseItem, ProfileItem, user_pk
from chalicelib.adapters.dynamo.repository import _lost_race, guarded, now_iso
from chalicelib.domain.notifications import (
    Channel,
    EventKind,
    NotificationEvent,
    Preferences,
    StoredNotification,
    Urgency,
)
from chalicelib.errors import DependencyUnavailable

HISTORY_TTL = timedelta(days=90)
#: GSI2 partition of the notifications whose delivery is not settled yet (the resend sweep's list).
UNSENT = "NOTIFY#UNSENT"


class NotificationItem(BaseItem, discriminator="NOTIF"):
    uid = UnicodeAttribute()
    key = UnicodeAttribute()
    kind = UnicodeAttribute()
    urgency = UnicodeAttribute()
    text = UnicodeAttribute()
    occurred_at = UnicodeAttribute()
    telegram = UnicodeAttribute(null=True)  # SENT | FAILED: <why> | SKIPPED: <why>
    email = UnicodeAttribute(null=True)  # the same, for the e-mail channel
    resends = NumberAttribute(null=True)  # times the resend sweep took it

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

    def record(
        self, event: NotificationEvent, text: str, recorded_at: datetime | None = None
    ) -> bool:
        """Store the notification; False when one with this key exists (a duplicate event).
        ``recorded_at`` (default: when it occurred) starts the resend sweep's grace period."""
        occurred = event.occurred_at.isoformat(timespec="milliseconds")
        due = (recorded_at or event.occurred_at).isoformat(timespec="milliseconds")
        item = NotificationItem(
            *NotificationItem.key_of(event.uid, event.key),
            uid=event.uid, key=event.key, kind=event.kind.value, urgency=event.urgency.value,
            text=text, occurred_at=occurred,
        )  # fmt: skip
        item.gsi1pk, item.gsi1sk = NotificationItem.history_key(event.uid, occurred, event.key)
        item.ttl = event.occurred_at + HISTORY_TTL
        # Listed as unsent until its delivery is settled: a worker that dies before the send
        # leaves it there for the resend sweep.
        item.gsi2pk, item.gsi2sk = UNSENT, _unsent_sk(due, event.uid, event.key)
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
        actions = [attribute[channel].set(status)]
        if channel is Channel.TELEGRAM:  # the last channel to settle (mail goes out at once)
            actions += [NotificationItem.gsi2pk.remove(), NotificationItem.gsi2sk.remove()]
        guarded(lambda: item.update(actions=actions))

    def settle(self, uid: str, key: str) -> None:
        """Nothing (more) to send for this notification: off the unsent list."""
        item = NotificationItem(*NotificationItem.key_of(uid, key))
        remove = [NotificationItem.gsi2pk.remove(), NotificationItem.gsi2sk.remove()]
        guarded(lambda: item.update(actions=remove))

    def load(self, uid: str, key: str) -> StoredNotification | None:
        """The notification as recorded, for a delivery step in another process."""
        item = self._get(NotificationItem, NotificationItem.key_of(uid, key))
        if item is None:
            return None
        event = NotificationEvent(
            uid, EventKind(item.kind), key, datetime.fromisoformat(item.occurred_at),
            urgency=Urgency(item.urgency),
        )  # fmt: skip
        return StoredNotification(event, item.text, item.telegram, item.email)

    def unsent(self, before: datetime, limit: int = 100) -> list[tuple[str, str]]:
        """(uid, key) of notifications still unsent and due before ``before``, oldest first."""
        upper = before.isoformat(timespec="milliseconds")

        def query() -> list[Any]:
            return list(BaseItem.gsi2.query(UNSENT, BaseItem.gsi2sk < upper, limit=limit))

        found = []
        for item in guarded(query):
            _due, uid, key = str(item.gsi2sk).rsplit("#", 2)
            found.append((uid, key))
        return found

    def postpone(self, uid: str, key: str, due: datetime, before: datetime) -> int:
        """Take an unsent notification still due before ``before`` for a resend: move its turn
        to ``due`` and count the take. 0 when it was settled or taken by another sweep
        meanwhile (the condition makes two concurrent sweeps take it once)."""
        item = NotificationItem(*NotificationItem.key_of(uid, key))
        sk = _unsent_sk(due.isoformat(timespec="milliseconds"), uid, key)
        upper = before.isoformat(timespec="milliseconds")
        try:
            item.update(
                actions=[NotificationItem.gsi2sk.set(sk), NotificationItem.resends.add(1)],
                condition=NotificationItem.gsi2pk.exists() & (NotificationItem.gsi2sk < upper),
            )
        except UpdateError as error:
            if _lost_race(error):
                return 0
            raise DependencyUnavailable("storage is unavailable; retry shortly") from error
        return int(item.resends or 0)

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


def _unsent_sk(due: str, uid: str, key: str) -> str:
    return f"{due}#{uid}#{key}"
