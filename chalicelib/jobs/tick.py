"""The tick's plan and fire steps, as plain functions of (container, event).

EventBridge Scheduler starts the tick state machine in the minute before slot T. `plan` takes the
exactly-once gates and builds and stores every order due at T, returning references to them in
batches (an account's orders stay together); the Map state hands each batch to `fire`, which
sleeps to T on its own monotonic clock and sends. Locally, `localdev.clock` calls the same two.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from chalicelib.adapters.dynamo.models import BaseItem, OrderItem
from chalicelib.adapters.dynamo.repository import guarded
from chalicelib.container import Container
from chalicelib.domain.calendar import IST
from chalicelib.errors import ValidationFailed
from chalicelib.jobs import recovery, risk

log = logging.getLogger(__name__)
LEAD = timedelta(minutes=1)  # the schedule fires one minute before the slot it plans
# Fire Lambdas start this long before T: building adapters (sessions, KMS) and claiming every
# order happen before T, then they sleep the rest on their own monotonic clock.
WAKE_BEFORE = timedelta(seconds=3)


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
    planned = container.planner.plan(slot)
    result: dict[str, Any] = {
        "slot": slot.isoformat(),
        "wake_at": (slot - WAKE_BEFORE).isoformat(),
        "batches": planned.batches(),
        "executions": [
            {"uid": e.uid, "sk": e.execution_sk} for e in planned.executions if e.orders
        ],
        **planned.stats,
    }
    if planned.skipped:
        result["skipped"] = planned.skipped
    return result


def fire(container: Container, event: dict[str, Any]) -> dict[str, Any]:
    """Send one batch: load its orders, wait for their time, send each once."""
    refs = (event.get("batch") or {}).get("orders", [])
    keys = [(ref["pk"], ref["sk"]) for ref in refs]
    orders = [
        o
        for o in guarded(lambda: list(BaseItem.batch_get(keys, consistent_read=True)))
        if isinstance(o, OrderItem)
    ]
    outcome = container.firer.fire(orders)
    log.info("batch fired", extra={"slot": event.get("slot"), **outcome})
    return {"orders": len(refs), **outcome}


def settle(container: Container, event: dict[str, Any]) -> dict[str, Any]:
    """After the fan-out: reconcile every execution of the slot to a terminal state (fills to
    positions, the leg-failure policy), bounded by the settlement's own deadline."""
    slot = event.get("slot", "")
    executions = event.get("executions") or []
    statuses = {}
    for ref in executions:
        try:  # one execution's failure never leaves the others unsettled
            report = container.settlement.settle(ref["uid"], ref["sk"])
            statuses[ref["sk"]] = report.status
        except Exception:
            log.exception("settlement failed", extra={"execution": ref["sk"]})
            statuses[ref["sk"]] = "ERROR"
            continue
        risk.arm(container, ref["uid"], ref["sk"])  # stops at the broker once fills are known
    # After each fire: whatever a crashed or timed-out fire Lambda left claimed, sent or unknown
    # is resolved against the brokers now (the slot's users), not at the next scheduled sweep.
    swept = recovery.sweep(container, users=sorted({ref["uid"] for ref in executions}))
    log.info("slot settled", extra={"slot": slot, "executions": len(statuses)})
    return {"slot": slot, "statuses": statuses, "recovery": swept}
