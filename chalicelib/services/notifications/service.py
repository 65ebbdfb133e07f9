"""The notification feature as the rest of the platform sees it: one object, built by the
container, whose hook methods only queue (they never raise and never wait on I/O)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from chalicelib.domain.notifications import Channel, NotificationEvent
from chalicelib.services.clock import Clock
from chalicelib.services.notifications.linking import TelegramLinking
from chalicelib.services.notifications.ports import NotificationStore
from chalicelib.services.notifications.queue import InProcessQueue
from chalicelib.services.notifications.translate import (
    ExecutionRef,
    Facts,
    from_day_report,
    from_execution_event,
    from_kill_switch,
    from_readiness,
)

log = logging.getLogger(__name__)
#: A notification still unsent this long after it was recorded is taken by the resend sweep (its
#: worker died between the record and the send). Longer than any 429 wait or backoff keeps it.
RESEND_AFTER = timedelta(minutes=3)
#: A notification the sweep took this many times without it being delivered is marked FAILED.
MAX_RESENDS = 3


@dataclass
class Notifications:
    store: NotificationStore
    queue: InProcessQueue
    linking: TelegramLinking
    facts: Facts
    clock: Clock
    login_base: str

    def execution_event(self, execution: Any, event: Mapping[str, Any]) -> None:
        """Hook of ``ExecutionRepository.add_event``: queue the recorded fact, return at once."""
        try:
            ref = ExecutionRef(
                execution.uid, execution.sk, execution.strategy_id, execution.phase,
                execution.trade_date,
            )  # fmt: skip
            recorded, now = dict(event), self.clock()
            self.queue.put(lambda: from_execution_event(self.facts, ref, recorded, now))
        except Exception:
            log.exception("could not queue a notification")

    def operator_alert(self, subject: str, summary: Mapping[str, Any]) -> None:
        """Hook of the alert publisher: tell each user about the rows that are theirs
        (today the readiness job's ``not_ready`` accounts)."""
        try:
            snapshot, now = dict(summary), self.clock()
            self.queue.put(lambda: from_readiness(snapshot, self.login_base, now))
        except Exception:
            log.exception("could not queue a notification")

    def kill_switch(self, switch: Any, stage: str) -> None:
        """Hook of the kill-switch store: ``engaged`` then ``done`` (with the square-off)."""
        try:
            snapshot = {
                "uid": switch.uid, "scope": switch.scope, "target": switch.target,
                "reason": switch.reason, "engaged_at": switch.engaged_at,
                "summary": switch.summary, "status": getattr(switch, "status", None),
            }  # fmt: skip
            now = self.clock()
            self.queue.put(functools.partial(from_kill_switch, self.facts, snapshot, stage, now))
        except Exception:
            log.exception("could not queue a notification")

    def day_report(self, day: str, uids: list[str]) -> None:
        """Hook of the 15:45 job: queue each user's day report (built on the worker)."""
        try:
            now = self.clock()
            for uid in uids:
                self.queue.put(functools.partial(from_day_report, self.facts, uid, day, now))
        except Exception:
            log.exception("could not queue the day reports")

    def publish(self, event: NotificationEvent) -> None:
        self.queue.publish(event)

    def resend_unsent(self, limit: int = 100) -> int:
        """The resend sweep: deliver notifications recorded more than ``RESEND_AFTER`` ago and
        never settled. Each one found is pushed back by ``RESEND_AFTER`` first, so the next
        sweep leaves it to this one; the delivery step skips a channel already delivered."""
        now = self.clock()
        resent, cutoff = 0, now - RESEND_AFTER
        for uid, key in self.store.unsent(cutoff, limit):
            taken = self.store.postpone(uid, key, now, cutoff)
            if taken == 0:  # delivered, or taken by another sweep, meanwhile
                continue
            if taken > MAX_RESENDS:  # something fails every time: stop, say so, alarm via logs
                log.error("notification given up after resends", extra={"user": uid})
                self.store.mark_delivery(
                    uid, key, Channel.TELEGRAM, f"FAILED: not delivered after {MAX_RESENDS} resends"
                )
                continue
            log.warning("resending an undelivered notification", extra={"user": uid})
            self.queue.put(functools.partial(_resend, self.queue.dispatcher, uid, key))
            resent += 1
        return resent


def _resend(dispatcher: Any, uid: str, key: str) -> list[NotificationEvent]:
    dispatcher.resend(uid, key)
    return []
