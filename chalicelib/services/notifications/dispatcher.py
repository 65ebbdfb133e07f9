"""Delivery: record each event once, then send Telegram messages paced per chat.

``accept`` stores the notification (the store's conditional put is the once-per-event gate: a
duplicate answers False and nothing is sent) and, when the user's preferences and a linked chat
say so, puts its text in that chat's outbox. ``flush`` sends at most one message per chat per
``interval`` (Telegram allows about one a second per chat): whatever piled up for a chat meanwhile
goes out merged into that one message. A 429 waits ``retry_after``; other retryable failures back
off exponentially; after ``max_attempts`` (or a failure retrying cannot fix: bad token, blocked
chat) the notification is marked FAILED and dropped from the outbox, never resent.

With a ``forward`` queue (SQS on AWS) ``accept`` only records and forwards the notification's id;
the queue's consumer reloads it and calls ``route`` (docs/notifications.md). A notification stays
on the store's unsent list until its Telegram delivery is settled (SENT, FAILED, SKIPPED, or no
Telegram for it): the resend sweep finds the ones a dead worker left behind.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain.notification_text import burst, render
from chalicelib.domain.notifications import Channel, NotificationEvent, StoredNotification
from chalicelib.ports.telegram_errors import TelegramError, TelegramRateLimited
from chalicelib.services.notifications.ports import (
    DeliveryQueue,
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
        forward: DeliveryQueue | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.sleep = sleep
        self.forward, self.clock = forward, clock
        self._queued: set[tuple[str, str]] = set()
        self.store, self.bot, self.mailer = store, bot, mailer
        self.monotonic = monotonic
        self.interval, self.max_attempts = interval, max_attempts
        self.backoff, self.backoff_cap = backoff, backoff_cap
        self._outbox: dict[str, deque[Pending]] = defaultdict(deque)
        self._ready_at: dict[str, float] = {}

    # -- intake ----------------------------------------------------------------------------------
    def accept(self, event: NotificationEvent) -> bool:
        """Record ``event`` and queue (or forward) its delivery; False for a duplicate."""
        text = render(event)
        recorded_at = self.clock() if self.clock is not None else None
        if not self.store.record(event, text, recorded_at):
            log.info("duplicate notification", extra={"user": event.uid, "kind": event.kind})
            return False
        if self.forward is not None:
            try:
                self.forward.send(event.uid, event.key)
            except Exception:  # still on the unsent list: the resend sweep forwards it later
                log.exception("could not forward a notification", extra={"user": event.uid})
            return True
        self.route(StoredNotification(event, text))
        return True

    def resend(self, uid: str, key: str) -> None:
        """Deliver a notification recorded earlier (the resend sweep): forwarded again, or
        reloaded and routed here."""
        if self.forward is not None:
            self.forward.send(uid, key)
            return
        note = self.store.load(uid, key)
        if note is not None:
            self.route(note)

    def route(self, note: StoredNotification, attempts: int = 0) -> None:
        """Send ``note`` on its channels that have not been delivered yet: e-mail at once,
        Telegram into its chat's outbox (flushed by ``flush``)."""
        event, text = note.event, note.text
        channels = self.store.preferences(event.uid).channels_for(event)
        if Channel.EMAIL in channels and self.mailer is not None and note.email is None:
            self._email(event, text)
        telegram_due = self.bot is not None and Channel.TELEGRAM in channels
        if not telegram_due or note.telegram is not None:  # nothing (more) to send on Telegram
            self._settle(event.uid, event.key)
            return
        if (event.uid, event.key) in self._queued:  # already waiting in an outbox here
            return
        chat = self.store.telegram_chat(event.uid)
        if chat is None:
            self._mark_channel(event.uid, event.key, Channel.TELEGRAM, "SKIPPED: no chat")
            return
        self._outbox[chat].append(Pending(event.uid, event.key, text, attempts))
        self._queued.add((event.uid, event.key))

    def take_waiting(self) -> list[tuple[Pending, float]]:
        """Empty the outboxes: each waiting message with the seconds until its chat's turn (the
        SQS consumer re-enqueues them with that delay instead of waiting)."""
        now, waiting = self.monotonic(), []
        for chat, queue in list(self._outbox.items()):
            due = max(0.0, self._ready_at.get(chat, 0.0) - now)
            waiting += [(pending, due) for pending in queue]
            del self._outbox[chat]
        self._queued.clear()
        return waiting

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
            self._queued.discard((pending.uid, pending.key))
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
            self._queued.discard((pending.uid, pending.key))
            self._mark(pending, f"FAILED: {error}")

    def _mark(self, pending: Pending, status: str) -> None:
        self._mark_channel(pending.uid, pending.key, Channel.TELEGRAM, status)

    def _settle(self, uid: str, key: str) -> None:
        try:
            self.store.settle(uid, key)
        except Exception:
            log.exception("could not settle a notification", extra={"user": uid})

    def _mark_channel(self, uid: str, key: str, channel: Channel, status: str) -> None:
        try:
            self.store.mark_delivery(uid, key, channel, status)
        except Exception:
            log.exception("could not record a delivery", extra={"user": uid})
