"""The delivery step of the SQS queue (AWS): reload each notification a message names and send it.

Once per event even when SQS delivers a message twice: a notification whose Telegram delivery is
settled (SENT, FAILED, SKIPPED) is not sent again, and one batch routes each notification once.
The consumer function runs with reserved concurrency 1, so two batches never interleave and one
chat is paced by one process. Pacing and 429: the batch waits for a chat's next turn only
briefly (``max_wait``); a longer wait (Telegram's ``retry_after``, a backoff) goes back to the
queue as a delayed message, so no Lambda sleeps through a rate limit and nothing is lost with
it. A message that cannot be parsed is logged and dropped (a redelivery could not fix it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chalicelib.services.notifications.dispatcher import Dispatcher
from chalicelib.services.notifications.ports import DeliveryQueue, NotificationStore, parse_body

log = logging.getLogger(__name__)
MAX_WAIT = 3.0  # seconds a batch waits for a chat's next turn before deferring to the queue


@dataclass
class QueueConsumer:
    dispatcher: Dispatcher
    store: NotificationStore
    queue: DeliveryQueue
    max_wait: float = MAX_WAIT
    sleep: Callable[[float], None] = field(default=time.sleep)

    def handle(self, records: Iterable[Mapping[str, Any]]) -> dict[str, int]:
        routed = dropped = 0
        for record in records:
            try:
                uid, key, attempts = parse_body(str(record.get("body", "")))
            except ValueError:
                log.error("dropped a malformed notification message")
                dropped += 1
                continue
            note = self.store.load(uid, key)
            if note is None:  # expired from the history (90 days) or never recorded
                log.warning("no notification for a queued message", extra={"user": uid})
                dropped += 1
                continue
            self.dispatcher.route(note, attempts)
            routed += 1
        sent = self.dispatcher.flush()
        while self.dispatcher.pending():
            due = self.dispatcher.next_due()
            wait = 0.0 if due is None else due - self.dispatcher.monotonic()
            if wait > self.max_wait:
                break
            self.sleep(max(0.0, wait))
            sent += self.dispatcher.flush()
        deferred = 0
        for pending, delay in self.dispatcher.take_waiting():
            self.queue.send(pending.uid, pending.key, delay=delay, attempts=pending.attempts)
            deferred += 1
        return {"routed": routed, "sent": sent, "deferred": deferred, "dropped": dropped}
