"""The tick's plan, fire and settle steps, as plain functions of (container, event).

EventBridge Scheduler starts the tick state machine in the minute before slot T. `plan` takes the
exactly-once gates and builds and stores every order due at T, then stores the fire batches (order
keys, an account's orders together) and the settle batches (execution keys) in the table and
returns only their indexes: a state's payload is capped at 256 KiB by Step Functions, so the order
lists never travel through the state machine (``tick_items``). The fire Map hands each index to
`fire`, which loads its batch, sleeps to T on its own monotonic clock and sends; the settle Map then
hands each settle index to `settle`, which settles its executions concurrently (none waits behind
another's broker polls) and arms their stops. Locally, `localdev.clock` drives the planner itself.
"""

from __future__ import annotations

import logging
import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.adapters.dynamo import tick_items
from chalicelib.adapters.dynamo.models import BaseItem, OrderItem
from chalicelib.adapters.dynamo.repository import guarded
from chalicelib.container import Container
from chalicelib.domain.calendar import IST
from chalicelib.errors import ValidationFailed
from chalicelib.jobs import recovery, risk
from chalicelib.services.planner import TickPlan

log = logging.getLogger(__name__)
LEAD = timedelta(minutes=1)  # the schedule fires one minute before the slot it plans
# Fire Lambdas start this long before T: a cold start (importing the app: 1.6-1.95 s measured on a
# contended vCPU; the fire function has one, 1,769 MB), building adapters (sessions, KMS) and
# claiming every order happen before T, then they sleep the rest on their own monotonic clock. The
# Wait state resolves to the whole second, so a fire Lambda has 4 to 5 s. docs/cost.md ("Running
# it on a real account") has the figures; entries later than max_entry_delay_seconds are not sent.
WAKE_BEFORE = timedelta(seconds=5)
#: At most this many fire batches: the fire Map's MaxConcurrency (infra var fire_map_concurrency,
#: 40 is also the ceiling of an inline Map), so every batch of a tick starts at once.
MAX_FIRE_BATCHES = 40
#: Executions per settle Lambda, settled concurrently (one thread each): with a 30 s poll
#: deadline each, a settle batch fits the settle function's timeout (.chalice/config.json).
SETTLE_PER_BATCH = 10


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


def utc_z(moment: datetime) -> str:
    """An instant as the Wait state reads it without doubt: UTC, whole seconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def plan(container: Container, event: dict[str, Any]) -> dict[str, Any]:
    slot = slot_of(event, container.clock())
    planned = container.planner.plan(slot)
    result = dispatch(planned, slot, container.clock())
    if planned.skipped:
        result["skipped"] = planned.skipped
    return result


def dispatch(planned: TickPlan, slot: datetime, now: datetime) -> dict[str, Any]:
    """Store the tick's fire and settle batches; the state machine's input is what this returns
    (a run id and two lists of small integers, whatever the number of orders)."""
    run = f"{slot.isoformat()}#{secrets.token_hex(4)}"
    fire_batches = [b["orders"] for b in planned.batches(max_batches=MAX_FIRE_BATCHES)]
    refs = [{"uid": e.uid, "sk": e.execution_sk} for e in planned.executions if e.orders]
    settle_batches = [
        refs[start : start + SETTLE_PER_BATCH] for start in range(0, len(refs), SETTLE_PER_BATCH)
    ]
    return {
        "slot": slot.isoformat(),
        "wake_at": utc_z(slot - WAKE_BEFORE),
        "run": run,
        "fire": tick_items.store(run, tick_items.FIRE, fire_batches, now),
        "settle": tick_items.store(run, tick_items.SETTLE, settle_batches, now),
        "orders": len(planned.orders),
        "executions": len(refs),
        **planned.stats,
    }


def fire(container: Container, event: dict[str, Any]) -> dict[str, Any]:
    """Send one batch: load its orders, wait for their time, send each once."""
    refs = tick_items.load(_run(event), tick_items.FIRE, _index(event))
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
    """After the fan-out: reconcile one settle batch's executions to a terminal state (fills to
    positions, the leg-failure policy) and arm their stops, each execution on its own thread so
    that none waits behind another's polls; each is bounded by the settlement's own deadline."""
    slot = event.get("slot", "")
    executions = tick_items.load(_run(event), tick_items.SETTLE, _index(event))
    statuses: dict[str, str] = {}
    if executions:
        _ = (container.settlement, container.risk)  # built once, before the threads share them
        with ThreadPoolExecutor(max_workers=len(executions)) as pool:
            for ref, status in zip(
                executions, pool.map(lambda r: _settle_one(container, r), executions), strict=True
            ):
                statuses[ref["sk"]] = status
    # After each fire: whatever a crashed or timed-out fire Lambda left claimed, sent or unknown
    # is resolved against the brokers now (the batch's users), not at the next scheduled sweep.
    swept = recovery.sweep(container, users=sorted({ref["uid"] for ref in executions}))
    errors = sum(1 for s in statuses.values() if s == "ERROR")
    log.info("batch settled", extra={"slot": slot, "executions": len(statuses), "errors": errors})
    return {"slot": slot, "statuses": statuses, "errors": errors, "recovery": swept}


def _settle_one(container: Container, ref: dict[str, str]) -> str:
    try:  # one execution's failure never leaves the others unsettled
        report = container.settlement.settle(ref["uid"], ref["sk"])
    except Exception:
        log.exception("settlement failed", extra={"execution": ref["sk"]})
        return "ERROR"
    risk.arm(container, ref["uid"], ref["sk"])  # stops at the broker once fills are known
    return report.status


def _run(event: dict[str, Any]) -> str:
    run = event.get("run")
    if not isinstance(run, str) or not run:
        raise ValidationFailed("run is required (the plan's run id)", field="run")
    return run


def _index(event: dict[str, Any]) -> int:
    index = event.get("batch")
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise ValidationFailed("batch must be a batch index (an integer >= 0)", field="batch")
    return index
