"""The tick's plan and fire steps, as plain functions of (container, event).

EventBridge Scheduler starts the tick state machine in the minute before slot T; `plan` finds what is
due at T through the GSI2 schedule index and returns the batches the Map state fans out to `fire`.

Foundation scope: the planner resolves the slot, skips holidays and times outside the session and
reads the due schedule entries (counting its DynamoDB requests), but returns no batches, and `fire`
sends nothing. Order building and sending are the execution engine's (issue #5); until it lands a
tick is a dry run that reports what was due, so nothing is ever half-sent.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from chalicelib.adapters.dynamo.metrics import count_requests
from chalicelib.container import Container
from chalicelib.domain.calendar import IST, default_calendar
from chalicelib.domain.strategy import Weekday
from chalicelib.errors import ValidationFailed

log = logging.getLogger(__name__)
LEAD = timedelta(minutes=1)  # the schedule fires one minute before the slot it plans
WAKE_BEFORE = timedelta(seconds=1)  # fire Lambdas sleep the last second on their own clock


def slot_of(event: dict[str, Any], now: datetime) -> datetime:
    """Slot T: the scheduler's time plus the lead, truncated to the minute, in IST."""
    raw = event.get("scheduled_time")
    try:
        scheduled = datetime.fromisoformat(raw.replace("Z", "+00:00")) if raw else now
    except (AttributeError, ValueError) as error:
        raise ValidationFailed("scheduled_time must be ISO-8601", field="scheduled_time") from error
    if scheduled.tzinfo is None:
        raise ValidationFailed("scheduled_time needs a UTC offset", field="scheduled_time")
    return (scheduled.astimezone(IST) + LEAD).replace(second=0, microsecond=0)


def plan(container: Container, event: dict[str, Any]) -> dict[str, Any]:
    slot = slot_of(event, container.clock())
    wake_at = (slot - WAKE_BEFORE).astimezone(IST)
    result: dict[str, Any] = {
        "slot": slot.isoformat(),
        "wake_at": wake_at.isoformat(),
        "batches": [],
    }
    calendar = default_calendar()
    session = calendar.session(slot.date())
    if not calendar.is_trading_day(slot.date()) or session is None:
        result["skipped"] = calendar.holiday_reason(slot.date()) or "not a trading day"
        return result
    if not session.open <= slot.time() <= session.close:
        result["skipped"] = "outside the F&O session"
        return result
    with count_requests() as requests:
        due = container.repo.due(Weekday.of(slot.date()).value, slot.strftime("%H%M"))
    result["due"] = len(due)
    result["dynamodb_requests"] = sum(requests.values())
    result["dry_run"] = "execution engine not installed: nothing is sent"
    log.info("tick planned", extra={"slot": result["slot"], "due": len(due)})
    return result


def fire(container: Container, event: dict[str, Any]) -> dict[str, Any]:
    """Placeholder of the foundation: sends nothing (see the module docstring)."""
    batch = event.get("batch") or {}
    log.info("fire called without an execution engine", extra={"slot": event.get("slot")})
    return {"sent": 0, "orders": len(batch.get("orders", [])), "dry_run": True}
