"""What one order's send at T came to, before it is recorded (the firer's ``Sent``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain import order_lifecycle as lc
from chalicelib.domain.calendar import IST
from chalicelib.domain.records import OrderRecord
from chalicelib.ports.broker import InvalidRequest, OrderAck
from chalicelib.ports.broker_errors import BrokerError, InvalidOrder, Rejected, Unavailable

#: Default for entries whose order carries no max_entry_delay_seconds (the API's default).
DEFAULT_MAX_ENTRY_DELAY = 30


@dataclass
class Sent:
    order: OrderRecord
    sent_at: datetime
    acked_at: datetime | None
    ack: OrderAck | None
    error: BrokerError | Exception | None
    #: The lifecycle state this outcome leads to (OPEN, REJECTED, FAILED, UNKNOWN, MISSED).
    outcome: str = lc.OPEN
    #: Whether the request may have left (sent_at is recorded only then).
    left: bool = True


def outcome_of(error: Exception | None) -> str:
    """The lifecycle state an unacknowledged send leads to."""
    if isinstance(error, Rejected | InvalidOrder | InvalidRequest):
        return lc.REJECTED
    if isinstance(error, Unavailable):
        return lc.UNKNOWN if error.sent else lc.FAILED
    if isinstance(error, BrokerError):
        return lc.FAILED  # refused before placement: session, static IP, rate
    return lc.UNKNOWN  # unexpected: the request may have left


def iso_stamp(moment: datetime) -> str:
    """The firer's stamps (claimed, sent, acknowledged): IST, to the microsecond."""
    return moment.astimezone(IST).isoformat(timespec="microseconds")
