"""A slot planned in parts on threads of one process (the local clock, engine mode): the same
split the tick state machine makes across plan Lambdas (domain/plan_parts.py), so both modes
run one code path; the parts are merged back into one plan for the in-process firer."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from chalicelib.domain.calendar import IST
from chalicelib.domain.plan_parts import PlanPart, all_parts
from chalicelib.services.planner import Planner
from chalicelib.services.tick_plan import TickPlan

log = logging.getLogger(__name__)


def plan_in_parts(planner: Planner, slot: datetime, parts: int) -> TickPlan:
    """Plan ``slot`` as ``parts`` concurrent parts and merge them (executions in the order one
    planner would have made them). As on AWS, a part that fails does not stop the others from
    being fired: it is logged and counted in ``stats["plan_failed"]``."""
    slot = slot.astimezone(IST).replace(second=0, microsecond=0)
    if parts <= 1:
        return planner.plan(slot)

    def plan_part(part: PlanPart) -> TickPlan | Exception:
        try:
            return planner.plan(slot, part)
        except Exception as error:
            log.exception("plan part failed", extra={"slot": slot.isoformat(), "part": part.index})
            return error

    with ThreadPoolExecutor(max_workers=parts, thread_name_prefix="plan-part") as pool:
        planned = list(pool.map(plan_part, all_parts(parts)))
    done = [p for p in planned if not isinstance(p, Exception)]
    if not done:  # nothing planned at all: the caller reports the failure, as for one planner
        raise next(p for p in planned if isinstance(p, Exception))
    merged = TickPlan.merged(slot, done)
    if len(done) < len(planned):
        merged.stats["plan_failed"] = len(planned) - len(done)
    return merged
