"""Delivery: record each event once, then send Telegram messages paced per chat.

``accept`` stores the notification (the store's conditional put is the once-per-event gate: a
duplicate answers False and nothing is sent) and, when the user's preferences and a linked chat
say so, puts its text in that chat's outbox. ``flush`` sends at most one message per chat per
``interval`` (Telegram allows about one a second per chat): whatever piled up for a chat meanwhile
goes out merged into that one message. A 429 waits ``retry_after``; other retryable failures back
off exponentially; after ``max_attempts`` (or a failure retrying cannot fix: bad token, blocked
chat) the notification is marked FAILED and dropped from the outbox, never resent.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass

from chalicelib.adapters.telegram import TelegramError, TelegramRateLimited
from chalicelib.domain.notification_text import burst, render
from chalicelib.domain.notifications import Channel, NotificationEvent
from chalicelib.services.notifications.ports import (
    EmailError,
    MailerPort,
    NotificationStore,
    TelegramPort,
)

log = logging.getLogger(__name__)


@dataclass
class Pending:
    uid: str
    key: str
    text: str
    attempts: int = 0


class Dispatcher:
    def __init__(
        self,
        store: NotificationStore,
        bot: TelegramPort | None,
        monotonic: Callable[[], float] = time.monotonic,
        interval: float = 1.0,
        max_attempts: int = 5,
        backoff: float = 1.0,
        backoff_cap: float = 60.0,
        mailer: MailerPort | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.sleep = sleep
        self.store, self.bot, self.mailer = store, bot, mailer
        self.monotonic = monotonic
        self.interval, self.max_attempts = interval, max_attempts
        self.backoff, self.backoff_cap = backoff, backoff_cap
        self._outbox: dict[str, deque[Pending]] = defaultdict(deque)
        self._ready_at: dict[str, float] = {}

    # -- intake ----------------------------------------------------------------------------------
    def accept(self, event: NotificationEvent) -> bool:
        """Record ``event`` and queue its Telegram message; False for a duplicate."""
        text = render(event)
        if not self.store.record(event, text):
            log.info("duplicate notification", extra={"user": event.uid, "kind": event.kind})
            return False
        channels = self.store.preferences(event.uid).channels_for(event)
        if Channel.EMAIL in channels and self.mailer is not None:
            self._email(event, text)
        if self.bot is None:  # no bot on this deployment: the in-app record is all there is
            return True
        if Channel.TELEGRAM not in channels:
            return True
        chat = self.store.telegram_chat(event.uid)
        if chat is None:
            self.store.mark_delivery(event.uid, event.key, Channel.TELEGRAM, "SKIPPED: no chat")
            return True
        self._outbox[chat].append(Pending(event.uid, event.key, text))
        return True

    def _email(self, event: NotificationEvent, text: str) -> None:
        """One message per event, sent at once (no per-chat pacing applies to mail); a failure is
        recorded on the notification and retried at most ``max_attempts`` times when retryable."""
        assert self.mailer is not None
        address = self.store.email_address(event.uid)
        if not address:
            self.store.mark_delivery(event.uid, event.key, Channel.EMAIL, "SKIPPED: no address")
            return
        subject = "optexec: " + text.splitlines()[0][:120]
        for attempt in range(1, self.max_attempts + 1):
            try:
                self.mailer.send(address, subject, text)
            except EmailError as error:
                if error.retryable and attempt < self.max_attempts:
                    self.sleep(min(self.backoff * 2 ** (attempt - 1), self.backoff_cap))
                    continue
                log.error("e-mail not sent", extra={"user": event.uid, "error": str(error)})
                self._mark_channel(event.uid, event.key, Channel.EMAIL, f"FAILED: {error}")
                return
            self._mark_channel(event.uid, event.key, Channel.EMAIL, "SENT")
            return

    # -- delivery --------------------------------------------------------------------------------
    def pending(self) -> int:
        """Messages waiting (read from other threads by ``drain``: copy before iterating)."""
        return sum(len(q) for q in list(self._outbox.values()))

    def next_due(self) -> float | None:
        """The monotonic instant the next chat may be sent to (None: nothing waits)."""
        waiting = [self._ready_at.get(chat, 0.0) for chat, q in self._outbox.items() if q]
        return min(waiting) if waiting else None

    def flush(self) -> int:
        """Send one (merged) message to every chat whose turn has come; returns how many sent."""
        sent = 0
        now = self.monotonic()
        for chat, queue in list(self._outbox.items()):
            if queue and self._ready_at.get(chat, 0.0) <= now:
                sent += self._send(chat, queue, now)
            if not queue:
                del self._outbox[chat]
        return sent

    def _send(self, chat: str, queue: deque[Pending], now: float) -> int:
        assert self.bot is not None
        text, count = burst([p.text for p in queue])
        batch = [queue[i] for i in range(count)]
        try:
            self.bot.send_message(chat, text)
        except TelegramRateLimited as error:
            self._ready_at[chat] = now + max(error.retry_after, self.interval)
            log.info("telegram asked to wait", extra={"retry_after": error.retry_after})
            return 0
        except TelegramError as error:
            self._failed(chat, queue, batch, error, now)
            return 0
        for pending in batch:
            queue.popleft()
            self._mark(pending, "SENT")
        self._ready_at[chat] = now + self.interval
        return 1

    def _failed(
        self, chat: str, queue: deque[Pending], batch: list[Pending], error: TelegramError,
        now: float,
    ) -> None:  # fmt: skip
        for pending in batch:
            pending.attempts += 1
        attempts = max(p.attempts for p in batch)
        if error.retryable and attempts < self.max_attempts:
            wait = min(self.backoff * 2 ** (attempts - 1), self.backoff_cap)
            self._ready_at[chat] = now + wait
            log.warning("telegram send failed; retrying", extra={"error": str(error), "in": wait})
            return
        log.error("telegram send failed; giving up", extra={"error": str(error)})
        for pending in batch:
            queue.popleft()
            self._mark(pending, f"FAILED: {error}")

    def _mark(self, pending: Pending, status: str) -> None:
        self._mark_channel(pending.uid, pending.key, Channel.TELEGRAM, status)

    def _mark_channel(self, uid: str, key: str, channel: Channel, status: str) -> None:
        try:
            self.store.mark_delivery(uid, key, channel, status)
        except Exception:
            log.exception("could not record a delivery", extra={"user": uid})
