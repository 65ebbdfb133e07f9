"""The kill switch: global, per account or per strategy, as one operation driven until flat.

Engaging is a conditional create of the switch's record, so two concurrent requests on one scope
join one operation instead of squaring off twice. The record blocks new entries at once (the
planner reads it), then the operation runs in *passes* (``services.kill_switch_pass``): the
request that created it runs the first pass, and the driver (``jobs.kill_switch``: the clock
process locally, a scheduled Lambda on AWS) runs the next ones, with backoff, until a pass finds
the scope flat. Each pass is claimed with a conditional write first, so two drivers never run
one operation's pass at once.

The operation is FLAT only when a pass found nothing held and nothing in flight in scope: it never
reports success when nothing was closed. After ``domain.kill_switch.ALERT_AFTER`` passes that could not finish, the
driver publishes an alert (once per operation); it keeps trying until flat or released.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib.domain.calendar import IST
from chalicelib.domain.kill_switch import (
    ALL,
    ENGAGING,
    SCOPES,
    PassOutcome,
    blocking_reason,
    iso,
    next_state,
)
from chalicelib.domain.records import KillSwitchRecord
from chalicelib.errors import Conflict, NotFound, ValidationFailed
from chalicelib.ports.kill_switch import KillSwitchExecutions, KillSwitchStore, KillSwitchTargets
from chalicelib.services.clock import Clock
from chalicelib.services.kill_switch_pass import PASS_BUDGET, SquareOff
from chalicelib.services.leases import Leases
from chalicelib.services.risk_engine import RiskEngine
from chalicelib.services.settlement import Settlement

log = logging.getLogger(__name__)
PASS_HOLD = 90.0  # seconds a pass claims its operation (longer than a whole pass)


@dataclass
class Drive:
    """One ``drive`` call: the operation as stored after it, whether this call ran the pass, and
    the alert to publish (None when there is nothing new to say)."""

    item: KillSwitchRecord
    ran: bool
    alert: dict[str, Any] | None = None


@dataclass
class KillSwitch:
    store: KillSwitchStore
    targets: KillSwitchTargets
    executions: KillSwitchExecutions
    settlement: Settlement
    clock: Clock
    leases: Leases
    risk: RiskEngine | None = None
    budget: float = PASS_BUDGET
    monotonic: Callable[[], float] = time.monotonic
    square_off: SquareOff = field(init=False)

    def __post_init__(self) -> None:
        self.square_off = SquareOff(
            self.executions, self.settlement, self.clock, self.leases, self.risk,
            budget=self.budget, monotonic=self.monotonic,
        )  # fmt: skip

    # -- queries -------------------------------------------------------------------------------
    def active(self, uid: str) -> list[KillSwitchRecord]:
        return self.store.active(uid)

    def blocks(self, uid: str, strategy_id: str, account_id: str | None = None) -> str | None:
        """The reason new entries of this strategy (on this account) are refused, or None."""
        return blocking_reason(self.store.active(uid), strategy_id, account_id)

    # -- commands ------------------------------------------------------------------------------
    def engage(
        self, uid: str, scope: str, target: str | None, *, who: str, reason: str = ""
    ) -> tuple[KillSwitchRecord, bool]:
        """Create the scope's operation, or join the one already engaged: (record, created)."""
        stored_target = self._target(uid, scope, target)
        now = iso(self.clock())
        operation_id = secrets.token_hex(6)
        for _ in range(3):  # a release racing the engage: try again
            created = self.store.open(
                uid, scope, stored_target, reason=reason, engaged_by=who, engaged_at=now,
                operation_id=operation_id,
            )  # fmt: skip
            if created is not None:
                log.warning(
                    "kill switch engaged",
                    extra={"user": uid, "scope": scope, "target": stored_target,
                           "operation": operation_id},
                )  # fmt: skip
                return created, True
            existing = self.store.get(uid, scope, stored_target)
            if existing is not None:
                return existing, False
        raise Conflict("the kill switch is being engaged and released concurrently; retry")

    def release(self, uid: str, scope: str, target: str | None) -> None:
        """Delete the switch: entries are allowed again and the driver stops its passes."""
        if scope not in SCOPES:
            raise ValidationFailed(f"scope must be one of {', '.join(SCOPES)}", field="scope")
        if not self.store.delete(uid, scope, ALL if scope == "all" else target):
            raise NotFound("no such kill switch is engaged")
        log.warning("kill switch released", extra={"user": uid, "scope": scope, "target": target})

    def drive(self, item: KillSwitchRecord, now: datetime | None = None) -> Drive:
        """Run the operation's next pass if nobody else is running one; record what it did."""
        moment = (now or self.clock()).astimezone(IST)
        if item.status != ENGAGING:
            return Drive(item, ran=False)
        if not self.store.claim_pass(item, moment.timestamp(), PASS_HOLD):
            return Drive(self.store.get(item.uid, item.scope, item.target) or item, ran=False)
        try:
            outcome = self.run_pass(item, moment)
        except Exception as error:  # a failed pass is retried like a blocked one
            log.exception("kill switch pass failed", extra={"operation": item.operation_id})
            outcome = PassOutcome(
                errors=[{"code": "pass_failed", "message": f"{type(error).__name__}: {error}"}]
            )
        return self._record(item, outcome, moment)

    def drive_due(self, now: datetime | None = None) -> list[Drive]:
        """Every operation whose next pass is due (the driver's one call per cycle)."""
        moment = (now or self.clock()).astimezone(IST)
        driven = []
        for item in self.store.due(iso(moment)):
            try:
                driven.append(self.drive(item, moment))
            except Exception:  # one user's storage failure never stops the others' passes
                log.exception("kill switch drive failed", extra={"user": item.uid})
        return driven

    def engaging(self) -> bool:
        """Whether any operation anywhere still has passes to run (the Lambda driver's test)."""
        return self.store.engaging()

    def run_pass(self, item: KillSwitchRecord, now: datetime) -> PassOutcome:
        return self.square_off.run(item, now)

    def freeze_risk(self, uid: str, scope: str, target: str, now: datetime) -> None:
        self.square_off.freeze_risk(uid, scope, target, now)

    # -- recording -----------------------------------------------------------------------------
    def _record(self, item: KillSwitchRecord, outcome: PassOutcome, now: datetime) -> Drive:
        state, alert = next_state(item, outcome, now)
        if alert is not None:
            log.error(
                "kill switch stalled",
                extra={"user": item.uid, "operation": item.operation_id,
                       "attempts": state.attempts},
            )  # fmt: skip
        if not self.store.record_pass(item, state):  # released meanwhile: nothing more to do
            return Drive(item, ran=True)
        return Drive(item, ran=True, alert=alert)

    def _target(self, uid: str, scope: str, target: str | None) -> str:
        """The stored target; the caller's own account or strategy (404 otherwise)."""
        if scope not in SCOPES:
            raise ValidationFailed(f"scope must be one of {', '.join(SCOPES)}", field="scope")
        if scope == "all":
            return ALL
        if not target:
            raise ValidationFailed(f"a {scope} kill switch needs the {scope}'s id", field="id")
        if scope == "account":
            self.targets.get_account(uid, target)
        else:
            self.targets.get_strategy(uid, target)
        return target
