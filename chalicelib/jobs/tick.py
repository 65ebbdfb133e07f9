"""The tick's plan, fire and settle steps, as plain functions of (container, event).

EventBridge Scheduler starts the tick state machine in the minute before slot T. The slot is
planned in parts, one plan Lambda each, concurrently (``part`` of ``parts``: the users of one key
range, domain/plan_parts.py): each `plan` call takes the exactly-once gates and builds and stores
its users' orders, then stores its fire batches (order references, an account's orders together)
and settle batches (execution references) under the run all parts of the execution share, and
returns only their indexes; a last `plan` call with the parts' answers (``planned``) gathers the
indexes. A state's payload is capped at 256 KiB by Step Functions, so the order lists never
travel through the state machine (``ports/tick_batches.py``). The fire Map hands each index to
`fire`, which loads its batch, sleeps to T on its own monotonic clock and sends; the settle Map
then hands each settle index to `settle`, which settles its executions concurrently (none waits
behind another's broker polls) and arms their stops. Locally, `localdev.clock` plans the same
parts on threads (services/parallel_plan.py).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.container import Container
from chalicelib.domain.calendar import IST
from chalicelib.domain.plan_parts import PlanPart
from chalicelib.errors import ValidationFailed
from chalicelib.jobs import recovery, risk
from chalicelib.ports.tick_batches import TickBatches
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
#: Settle batch indexes of part p start at p x SETTLE_STRIDE (100,000 executions a part).
SETTLE_STRIDE = 10_000


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
    """Plan slot T: the whole slot, one part of it (``part`` of ``parts``: the users of a key
    range, one plan Lambda each, so that N parts plan concurrently), or, with ``planned``,
    gather the parts' answers into the tick's plan."""
    slot = slot_of(event, container.clock())
    if "planned" in event:
        return gather(slot, event)
    part = part_of(event)
    planned = container.planner.plan(slot, part)
    run = run_of(slot, event) if part is not None else None
    result = dispatch(container.tick_batches, planned, slot, container.clock(), run=run, part=part)
    if planned.skipped:
        result["skipped"] = planned.skipped
    return result


def part_of(event: dict[str, Any]) -> PlanPart | None:
    """The part this call plans (None: the whole slot)."""
    if "part" not in event:
        return None
    index, count = event.get("part"), event.get("parts")
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in (index, count)):
        raise ValidationFailed("part and parts must be integers", field="part")
    try:
        return PlanPart(int(index), int(count))  # type: ignore[arg-type]
    except ValueError as error:
        raise ValidationFailed(str(error), field="part") from error


def run_of(slot: datetime, event: dict[str, Any]) -> str:
    """The run id every part of one tick shares: the slot and a digest of the Step Functions
    execution (a second execution of the same slot gets its own run, never the first's)."""
    execution = event.get("execution")
    if not isinstance(execution, str) or not execution:
        raise ValidationFailed("a part needs the execution id its parts share", field="execution")
    digest = hashlib.blake2b(execution.encode(), digest_size=4).hexdigest()
    return f"{slot.isoformat()}#{digest}"


def dispatch(
    batches: TickBatches,
    planned: TickPlan,
    slot: datetime,
    now: datetime,
    run: str | None = None,
    part: PlanPart | None = None,
) -> dict[str, Any]:
    """Store the tick's fire and settle batches; the state machine's input is what this returns
    (a run id and two lists of small integers, whatever the number of orders).

    A part numbers its batches in its own range of the shared run (fire batches from
    ``index x MAX_FIRE_BATCHES // parts``, at most that many, so that the whole tick still
    has at most MAX_FIRE_BATCHES), so the gathered lists need no renumbering."""
    run = run or f"{slot.isoformat()}#{secrets.token_hex(4)}"
    index, count = (part.index, part.count) if part is not None else (0, 1)
    per_part = MAX_FIRE_BATCHES // count
    fire_batches = [b["orders"] for b in planned.batches(max_batches=per_part)]
    refs = [{"uid": e.uid, "sk": e.execution_sk} for e in planned.executions if e.orders]
    settle_batches = [
        refs[start : start + SETTLE_PER_BATCH] for start in range(0, len(refs), SETTLE_PER_BATCH)
    ]
    return {
        "slot": slot.isoformat(),
        "wake_at": utc_z(slot - WAKE_BEFORE),
        "run": run,
        "fire": batches.store_fire(run, fire_batches, now, index * per_part),
        "settle": batches.store_settle(run, settle_batches, now, index * SETTLE_STRIDE),
        "orders": len(planned.orders),
        "executions": len(refs),
        **planned.stats,
    }


def gather(slot: datetime, event: dict[str, Any]) -> dict[str, Any]:
    """The tick's plan from its parts' answers (``planned``: each part's fire and settle
    indexes, or ``failed`` when its Lambda failed after its retries). The other parts still
    fire and settle; the tick then fails as PlanFailed, which raises the alarm."""
    parts = event.get("planned")
    if not isinstance(parts, list) or not all(isinstance(p, dict) for p in parts):
        raise ValidationFailed("planned must be the list of the parts' answers", field="planned")
    done = [p for p in parts if not p.get("failed")]
    failed = len(parts) - len(done)
    if failed:
        log.error("plan parts failed", extra={"slot": slot.isoformat(), "failed": failed})
    return {
        "slot": slot.isoformat(),
        "wake_at": utc_z(slot - WAKE_BEFORE),
        "run": run_of(slot, event),
        "fire": sorted(i for p in done for i in p.get("fire", [])),
        "settle": sorted(i for p in done for i in p.get("settle", [])),
        "orders": sum(p.get("orders", 0) for p in done),
        "executions": sum(p.get("executions", 0) for p in done),
        "parts": len(parts),
        "plan_failed": failed,
    }


def fire(container: Container, event: dict[str, Any]) -> dict[str, Any]:
    """Send one batch: load its orders, wait for their time, send each once."""
    refs = container.tick_batches.fire_refs(_run(event), _index(event))
    orders = container.tick_batches.orders(refs)
    outcome = container.firer.fire(orders)
    log.info("batch fired", extra={"slot": event.get("slot"), **outcome})
    return {"orders": len(refs), **outcome}


def settle(container: Container, event: dict[str, Any]) -> dict[str, Any]:
    """After the fan-out: reconcile one settle batch's executions to a terminal state (fills to
    positions, the leg-failure policy) and arm their stops, each execution on its own thread so
    that none waits behind another's polls; each is bounded by the settlement's own deadline."""
    slot = event.get("slot", "")
    executions = container.tick_batches.settle_refs(_run(event), _index(event))
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
