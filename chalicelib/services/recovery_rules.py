"""The recovery sweep's report and its rules of time: when an order's slot was, when its claim
was last taken, and whether a live firer may still send a claimed entry. No I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.calendar import IST
from chalicelib.domain.records import OrderRecord
from chalicelib.services.firer import DEFAULT_MAX_ENTRY_DELAY


@dataclass
class RecoveryReport:
    """What one sweep found and did (counts, and the executions it settled)."""

    users: int = 0
    fired: int = 0
    found: int = 0
    never_sent: int = 0
    resent: int = 0
    ambiguous: int = 0
    undecided: int = 0
    applied: int = 0
    skipped_executions: int = 0
    errors: int = 0
    deferred: int = 0  # users left for the next sweep (over budget)
    settled: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


def slot_of(order: OrderRecord) -> datetime:
    return at_instant(order.scheduled_at)


#: Past an entry's staleness bound a firer's last check may still be a moment old (a limiter
#: slot it was waiting for): this much more before recovery records the entry never sent.
ENTRY_SEND_MARGIN = timedelta(seconds=5)
#: A firer sends what it claimed in the same pass, paced at the account's budget (8 a second:
#: 240 orders of one account in 30 s); a claim older than this has no live sender.
ENTRY_SEND_WINDOW = timedelta(seconds=30)


def entry_may_still_leave(order: OrderRecord, now: datetime) -> bool:
    """Whether a live firer may still send this claimed entry: its claim is recent and the
    firer's own staleness check (slot + ``max_entry_delay_seconds``, just before each send)
    would still let it go."""
    allowed = float(order.max_delay_seconds or DEFAULT_MAX_ENTRY_DELAY)
    bound = slot_of(order) + timedelta(seconds=allowed) + ENTRY_SEND_MARGIN
    return now <= bound and claimed_since(order) + ENTRY_SEND_WINDOW > now


def claimed_since(order: OrderRecord) -> datetime:
    """When its claim was taken or last renewed (its slot when never claimed)."""
    return (
        at_instant(order.claimed_at) if order.claim_token and order.claimed_at else slot_of(order)
    )


def at_instant(moment: str) -> datetime:
    return datetime.fromisoformat(moment).astimezone(IST)
