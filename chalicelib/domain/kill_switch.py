"""The kill switch's rules, whatever stores it: scopes, states, what blocks an entry, what one pass
found and what the operation looks like after it (pure, no I/O).

An engaged switch is one operation per (user, scope, target), ENGAGING until a pass finds its
scope flat (nothing held, nothing in flight), then FLAT. ``next_state`` is the whole bookkeeping of
a pass: attempts, the cumulative summary, the bounded event log, the backoff before the next pass
and the one alert an operation raises after ``ALERT_AFTER`` passes that could not finish.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.calendar import IST
from chalicelib.domain.records import KillSwitchRecord

ALL = "ALL"  # the target of the global switch
ENGAGING = "ENGAGING"
FLAT = "FLAT"
SCOPES = ("all", "account", "strategy")
ALERT_AFTER = 3  # passes that could not finish before the operator is alerted
MAX_DELAY = 60.0  # seconds: the longest wait between two passes
MAX_EVENTS = 30  # events kept on the operation, newest last


def blocking_reason(
    switches: Iterable[KillSwitchRecord], strategy_id: str, account_id: str | None
) -> str | None:
    """Why an entry of ``strategy_id`` on ``account_id`` is refused, or None."""
    wanted = {("all", ALL), ("strategy", strategy_id), ("account", account_id or "")}
    for switch in switches:
        if (switch.scope, switch.target) in wanted:
            where = "all trading" if switch.scope == "all" else f"{switch.scope} {switch.target}"
            why = f": {switch.reason}" if switch.reason else ""
            return f"kill switch on {where}, engaged by {switch.engaged_by} at {switch.engaged_at}{why}"
    return None


def retry_delay(attempts: int) -> float:
    """Seconds before the next pass: 2, 4, 8, 16, 32, then every minute."""
    return min(2.0 * 2 ** max(attempts - 1, 0), MAX_DELAY)


def in_scope(scope: str, target: str, strategy_id: str, account_id: str) -> bool:
    return (
        scope == "all"
        or (scope == "strategy" and strategy_id == target)
        or (scope == "account" and account_id == target)
    )


@dataclass
class PassOutcome:
    """What one pass did and what is left; ``flat`` only when nothing is held or in flight.

    ``executions`` maps each KILL execution of the pass to the orders sent under it (settled at
    the end of the pass); it holds the store's order records.
    """

    withdrawn: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    square_off: list[dict[str, Any]] = field(default_factory=list)
    open: list[dict[str, Any]] = field(default_factory=list)
    blocked: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    executions: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def flat(self) -> bool:
        return not (self.open or self.blocked or self.errors)

    def block(self, strategy_id: str, account_id: str, code: str, message: str) -> None:
        self.blocked.append(
            {"strategy_id": strategy_id, "account_id": account_id, "code": code,
             "message": message}
        )  # fmt: skip


@dataclass(frozen=True)
class PassState:
    """The operation as a pass leaves it: what the store writes (with the pass claim cleared)."""

    attempts: int
    status: str
    flat_at: str | None
    next_attempt_at: str | None
    alerted: int
    summary: dict[str, Any]
    events: list[dict[str, Any]]


def empty_summary() -> dict[str, Any]:
    return {"withdrawn": [], "cancelled": [], "square_off": [], "open": [], "blocked": [],
            "errors": []}  # fmt: skip


def next_state(
    switch: KillSwitchRecord, outcome: PassOutcome, now: datetime
) -> tuple[PassState, dict[str, Any] | None]:
    """The operation after this pass, and the alert to publish (None: nothing new to say).

    The summary is cumulative for what was done (withdrawn, cancelled, squared off) and current
    for what is left (open, blocked, errors): a later pass that finds the scope flat clears them.
    """
    at = iso(now)
    attempts = int(switch.attempts) + 1
    summary = {**empty_summary(), **(switch.summary or {})}
    summary["withdrawn"] = _merge(summary["withdrawn"], outcome.withdrawn)
    summary["cancelled"] = _merge(summary["cancelled"], outcome.cancelled)
    summary["square_off"] = list(summary["square_off"]) + outcome.square_off
    summary.update(open=outcome.open, blocked=outcome.blocked, errors=outcome.errors)
    event: dict[str, Any] = {
        "at": at, "kind": "pass", "attempt": attempts, "flat": outcome.flat,
        "sent": len(outcome.square_off), "blocked": sorted({b["code"] for b in outcome.blocked}),
    }  # fmt: skip
    events = [*(switch.events or []), event]
    alert = None
    alerted = int(switch.alerted or 0)
    if outcome.flat:
        status, flat_at, next_at = FLAT, at, None
    else:
        status, flat_at = switch.status, switch.flat_at
        next_at = iso(now + timedelta(seconds=retry_delay(attempts)))
        if attempts >= ALERT_AFTER and not alerted:
            alerted = 1
            alert = {
                "user": switch.uid, "scope": switch.scope, "target": switch.target,
                "operation": switch.operation_id, "attempts": attempts,
                "open": outcome.open, "blocked": outcome.blocked, "errors": outcome.errors,
                "message": "the kill switch cannot square off yet; it keeps retrying",
            }  # fmt: skip
            events.append({"at": at, "kind": "alert", "code": "kill_switch_stalled"})
    state = PassState(
        attempts=attempts, status=status, flat_at=flat_at, next_attempt_at=next_at,
        alerted=alerted, summary=summary, events=events[-MAX_EVENTS:],
    )  # fmt: skip
    return state, alert


def iso(moment: datetime) -> str:
    """An instant as the switch stores it: IST, milliseconds (sortable within the driver's index)."""
    return moment.astimezone(IST).isoformat(timespec="milliseconds")


def _merge(first: Sequence[str], more: Sequence[str]) -> list[str]:
    return list(dict.fromkeys([*first, *more]))
