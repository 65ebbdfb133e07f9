"""The recovery sweep: every order the platform may have lost track of is resolved against the
broker, and settlement continues from the truth.

A crash (a killed clock, a Lambda timeout, a storage error at the wrong moment) can leave an order
at any step of its lifecycle (docs/order-lifecycle.md). The sweep looks at one day's unsettled
orders of every user and, for those whose slot is older than ``grace`` (the live sender had its
chance):

* BUILT orders of a PLANNED execution, and BUILT exits and unwinds whatever their execution's
  status (exits are always sent; the exit guard trims them), were never claimed (a crash before
  the claim): they are fired now through the ordinary firer. It claims them conditionally (never twice), sends exits
  however late and records an entry past its ``max_entry_delay_seconds`` as MISSED, with an alert.
* Claimed, sent or unknown orders without a broker id are looked up by tag at each of
  ``lookup_delays`` (the order book lags the acknowledgement): a found order is recorded
  acknowledged; one absent at every look never reached the broker: an entry becomes FAILED
  (failed-never-sent) with an alert, an exit or unwind is reopened once under a new tag and
  sent through the firer (a new claim; its exit guard trims it to what is held, under the close
  lease), with an alert, once ``resend_after`` has passed since its slot (a live sender may still
  be pacing it until then; its BUILT siblings on the account wait too); a tag the broker shows
  twice is left UNKNOWN with an alert.
  A lookup that fails (broker down) decides nothing: the next sweep looks again.
* Terminal orders whose fill never reached the position (a crash inside fill application) are
  polled once more and applied (``apply_fill`` is exactly-once).
* Executions with anything resolved, or still open after ``settle_after``, are settled with one
  status poll per order (fills to positions, the leg-failure policy); ``after_settle`` then arms
  the risk book (stops).
* Risk-engine intents stored BUILT that no guard names (the monitor died between storing and
  claiming them) go to ``risk_orphans`` (``RiskEngine.resolve_orphans``): abandoned when the
  broker has no such tag, adopted into their guard when it has.
* An execution whose gate was taken but whose orders were never written is closed SKIPPED with
  its reason and an alert.

Runs on clock start and every few seconds of the session locally (jobs/recovery.py), and on AWS
once a minute and after each fire. Everything it does is a conditional transition of the store, so
a sweep racing the live firer, settlement or another sweep never sends or applies anything twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib.domain import order_lifecycle as lc
from chalicelib.domain.calendar import IST, default_calendar
from chalicelib.domain.fills import has_unapplied_fill
from chalicelib.domain.records import ExecutionRecord, OrderRecord
from chalicelib.errors import DomainError
from chalicelib.ports.broker import Broker
from chalicelib.ports.broker_errors import BrokerError
from chalicelib.ports.recovery import AccountDirectory, RecoveryStore
from chalicelib.services.clock import Clock
from chalicelib.services.firer import Alert
from chalicelib.services.order_sender import stamp
from chalicelib.services.recovery_rules import (
    RecoveryReport,
    at_instant,
    claimed_since,
    entry_may_still_leave,
    slot_of,
)
from chalicelib.services.settlement import AMBIGUOUS, Settlement

log = logging.getLogger(__name__)
#: Appended to a closing order's tag when it is resent (tags stay <= 20 alphanumerics).
RESEND_MARK = "R"
#: Executions no longer worked on by anyone.
FINAL = frozenset({"COMPLETE", "PARTIAL", "FAILED", "UNWOUND", "SKIPPED", "WAITING"})
AfterSettle = Callable[[str, str], Any]
#: (uid, BUILT orders, now) -> outcome counts: the risk engine's orphaned intents resolved.
RiskOrphans = Callable[[str, Sequence[OrderRecord], datetime], dict[str, int]]


class LateFirer(Protocol):
    """The firer, for orders nobody claimed: claims each (never twice) and sends it, or
    records an entry past its delay MISSED; answers counts (``sent``...)."""

    def fire(self, orders: list[OrderRecord]) -> dict[str, int]: ...


@dataclass
class Recovery:
    executions: RecoveryStore
    repo: AccountDirectory
    settlement: Settlement
    firer: LateFirer
    clock: Clock
    sleep: Callable[[float], None] = time.sleep
    alert: Alert | None = None
    after_settle: AfterSettle | None = None
    risk_orphans: RiskOrphans | None = None
    #: An order younger than this (from its slot) still belongs to its live sender.
    grace: timedelta = timedelta(seconds=5)
    #: Seconds before each tag lookup (2.5 s in all) across the broker's order-book lag; the
    #: order is at least ``grace`` old already, so most of the lag has passed before the first.
    lookup_delays: tuple[float, ...] = (0.0, 1.0, 1.5)
    #: A closing order absent at the broker is resent only this long after its slot: a live
    #: firer pacing a long batch (10 orders/s) or a slow fire Lambda (60 s at most) may still be
    #: about to send it, and the resend goes under a new tag: both would close. Until then it
    #: stays in doubt (and its BUILT siblings wait with it, so the exit guard trims them all).
    resend_after: timedelta = timedelta(seconds=60)
    #: An execution still open this long after its slot is settled by the sweep too.
    settle_after: timedelta = timedelta(seconds=30)
    #: Wall seconds one sweep may spend (a broker outage makes every look slow): what is left
    #: waits for the next sweep, which starts with the users this one did not reach.
    budget: float = 40.0
    monotonic: Callable[[], float] = time.monotonic
    _last_settled: dict[str, datetime] = field(default_factory=dict, repr=False)
    _next_user: int = field(default=0, repr=False)

    def sweep(
        self, now: datetime | None = None, users: Sequence[str] | None = None
    ) -> RecoveryReport:
        """One pass over today's unsettled orders of every user (or of ``users``)."""
        now = (now or self.clock()).astimezone(IST)
        day = now.date().isoformat()
        uids = list(users) if users is not None else self.users()
        report = RecoveryReport(users=len(uids))
        deadline = self.monotonic() + self.budget
        start = self._next_user % len(uids) if uids else 0
        for index, uid in enumerate(uids[start:] + uids[:start]):
            if self.monotonic() > deadline:
                self._next_user = start + index  # the next sweep starts where this one stopped
                report.deferred = len(uids) - index
                log.warning("recovery sweep over budget", extra={"deferred": report.deferred})
                break
            try:  # one user's failure never stops the sweep for the others
                self._sweep_user(uid, day, now, report)
            except Exception:
                log.exception("recovery sweep failed for a user", extra={"user": uid})
                report.errors += 1
        if any(v for k, v in report.as_dict().items() if k not in ("users", "settled")):
            log.info("recovery sweep", extra={"date": day, **report.as_dict()})
        return report

    def users(self) -> list[str]:
        """Every user with a broker account: whom the sweep and the day's reconciliation visit."""
        return sorted({account.uid for account in self.repo.all_accounts()})

    # -- one user --------------------------------------------------------------------------------
    def _sweep_user(self, uid: str, day: str, now: datetime, report: RecoveryReport) -> None:
        orders = self.executions.unsettled_orders(uid, day)
        executions = {e.sk: e for e in self.executions.executions_on(uid, day)}
        report.skipped_executions += self._close_empty(uid, executions, orders, now)
        due = [o for o in orders if slot_of(o) + self.grace <= now]
        if not due:
            return
        touched: set[str] = set()
        adapters: dict[str, Broker | None] = {}
        # In-doubt orders first: an exit fired late (or resent) is trimmed by the exit guard,
        # which must not find a sibling in doubt (it would keep the exit back).
        in_doubt = [
            o for o in due
            if o.status in lc.IN_DOUBT and not o.broker_order_id
            and (o.error or {}).get("code") != AMBIGUOUS
        ]  # fmt: skip
        touched.update(self._resolve(uid, in_doubt, adapters, report, now))
        waiting = {(o.execution, o.account_id) for o in in_doubt if o.status in lc.IN_DOUBT}
        built = [
            o for o in due
            if o.status == lc.BUILT and (o.phase in lc.RESENT_PHASES or getattr(
                executions.get(o.execution), "status", None) == "PLANNED")
            and not (o.phase in lc.RESENT_PHASES and (o.execution, o.account_id) in waiting)
        ]  # fmt: skip
        if built and default_calendar().is_open(now):
            self._fire_late(built, report)
            touched.update(o.execution for o in built)
        elif built:
            self._never_fired(uid, built, report)
            touched.update(o.execution for o in built)
        fired = {o.order_id for o in built}
        orphans = [o for o in due if o.status == lc.BUILT and o.order_id not in fired]
        if orphans and self.risk_orphans is not None:
            report.never_sent += self.risk_orphans(uid, orphans, now).get("abandoned", 0)
        for order in built:
            if order.resent_from:
                self._alarm(uid, order, "closing order never reached the broker: resent", {
                    "code": "resent", "message": f"{order.resent_from} resent as {order.tag}: "
                    f"{order.status}"})  # fmt: skip
        unapplied = [o for o in due if o.status in lc.TERMINAL and has_unapplied_fill(o)]
        if unapplied:
            self.settlement.reconcile(uid, unapplied, give_up=False)
            report.applied += sum(1 for o in unapplied if not has_unapplied_fill(o))
            touched.update(o.execution for o in unapplied)
        working = {o.execution for o in due if o.status in lc.WORKING
                   and o.phase in ("ENTRY", "EXIT", "UNWIND")}  # fmt: skip
        for sk, execution in executions.items():
            late = at_instant(execution.slot) + self.settle_after <= now
            if late and (execution.status not in FINAL or sk in working):
                last = self._last_settled.get(sk)
                if last is None or last + self.settle_after <= now:  # resting orders: not always
                    touched.add(sk)
        for sk in sorted(touched):
            execution = executions.get(sk)
            if execution is not None and execution.phase not in ("ENTRY", "EXIT"):
                continue
            self._last_settled[sk] = now
            self._settle(uid, sk, report)

    def _fire_late(self, orders: list[OrderRecord], report: RecoveryReport) -> None:
        """Orders nobody claimed (a crash before the claim): sent now, once, or MISSED."""
        log.warning("firing orders nobody claimed", extra={"orders": len(orders)})
        counts = self.firer.fire(orders)
        report.fired += counts.get("sent", 0)

    def _never_fired(self, uid: str, orders: list[OrderRecord], report: RecoveryReport) -> None:
        """Orders nobody claimed, found after the session closed: not sent any more."""
        at = stamp(self.clock())
        for order in orders:
            reason = "not sent: its sender stopped before claiming it and the session has closed"
            if order.phase == "ENTRY":
                done = self.executions.record_missed(order, reason, at=at)
            else:
                error = {"kind": "never_sent", "code": "session_closed", "message": reason}
                done = self.executions.record_failed(order, lc.FAILED, error, at=at)
            if done:
                report.never_sent += 1
                self._alarm(uid, order, "order never sent", {"code": "session_closed",
                                                             "message": reason})  # fmt: skip

    def _resolve(
        self,
        uid: str,
        orders: list[OrderRecord],
        adapters: dict[str, Broker | None],
        report: RecoveryReport,
        now: datetime,
    ) -> set[str]:
        """Look the tags up across the order book's lag; record found / never sent."""
        touched: set[str] = set()
        pending = list(orders)
        for delay in self.lookup_delays:
            if not pending:
                break
            if delay:
                self.sleep(delay)
            absent = []
            for order in pending:
                adapter = self._adapter(adapters, uid, order.account_id)
                if adapter is None:
                    report.undecided += 1
                    continue
                try:
                    result = self.settlement.locate(adapter, order)
                except BrokerError as error:  # the broker did not answer: decide nothing
                    log.warning("tag lookup failed", extra={"tag": order.tag, "error": error.kind})
                    report.undecided += 1
                    adapters[order.account_id] = None  # down: its other orders wait too
                    continue
                if result == "absent":
                    absent.append(order)
                elif result == "found":
                    report.found += 1
                    touched.add(order.execution)
                else:
                    report.ambiguous += 1
                    self._alarm(uid, order, "order outcome unknown", order.error or {})
            pending = absent
        for order in pending:  # absent at every look: the broker never received it
            live = claimed_since(order) + self.resend_after > now  # its claimer may send it
            if order.phase not in lc.RESENT_PHASES and entry_may_still_leave(order, now):
                # A live firer may still send this entry (pacing a long batch, a slow machine).
                # Recording it never-sent now would run the leg-failure policy while the order
                # could still open a position: the next sweep decides.
                report.undecided += 1
                continue
            if order.phase in lc.RESENT_PHASES and not order.resent_from:
                if slot_of(order) + self.resend_after > now or live:
                    report.undecided += 1  # its sender may still be pacing: the next sweep
                    continue
                if self._reopen(order, now):  # exits are always sent: once more, a new tag
                    report.resent += 1
                    touched.add(order.execution)
                    continue
                if order.status in lc.IN_DOUBT:
                    report.undecided += 1  # its claim renewed meanwhile: the next sweep
                continue  # or moved meanwhile (found by another sweep, settled): the truth
            if order.resent_from and live:
                report.undecided += 1  # a resend being sent right now: the next sweep
                continue
            error = {
                "kind": "never_sent",
                "code": "never_sent",
                "message": f"no order with tag {order.tag} at the broker after "
                f"{len(self.lookup_delays)} lookups over {sum(self.lookup_delays):g} s",
            }
            stale = self._stale(now) if order.resent_from else None
            failed = self.executions.record_failed(
                order, lc.FAILED, error, at=stamp(self.clock()), claimed_before=stale
            )
            if failed:
                report.never_sent += 1
                touched.add(order.execution)
                self._alarm(uid, order, "order never reached the broker", error)
        return touched

    def _stale(self, now: datetime) -> str:
        return lc.stale_claims_before(now, self.resend_after.total_seconds())

    def _reopen(self, order: OrderRecord, now: datetime) -> bool:
        """A closing order the broker never received, back to BUILT under a new tag (once):
        the sweep then fires it like any order nobody claimed (a new claim; the firer's exit
        guard trims it to what is held, under the close lease)."""
        first = order.tag
        tag = (first if len(first) < 20 else first[:19]) + RESEND_MARK
        reason = (
            f"no order with tag {first} at the broker after {len(self.lookup_delays)} lookups: "
            f"resent as {tag}"
        )
        return self.executions.reopen_to_resend(
            order, tag, reason, at=stamp(self.clock()), claimed_before=self._stale(now)
        )

    def _settle(self, uid: str, execution_sk: str, report: RecoveryReport) -> None:
        try:
            result = self.settlement.settle(uid, execution_sk, give_up=False)
        except Exception:
            log.exception("recovery could not settle", extra={"execution": execution_sk})
            report.errors += 1
            return
        report.settled[execution_sk] = result.status
        if self.after_settle is not None:
            try:
                self.after_settle(uid, execution_sk)
            except Exception:
                log.exception("after-settle step failed", extra={"execution": execution_sk})

    def _close_empty(
        self,
        uid: str,
        executions: dict[str, ExecutionRecord],
        orders: list[OrderRecord],
        now: datetime,
    ) -> int:
        """A gate taken, its orders never written (a crash while planning): SKIPPED, said why."""
        closed = 0
        with_orders = {o.execution for o in orders}
        candidates = [
            e for e in executions.values()
            if e.status == "PLANNED" and e.sk not in with_orders
            and at_instant(e.slot) + self.settle_after <= now
        ]  # fmt: skip
        if not candidates:
            return 0
        # The base table, read consistently (GSI1 may lag): which of them do have orders.
        day = candidates[0].trade_date
        with_orders = {o.execution for o in self.executions.orders_on(uid, day, consistent=True)}
        for execution in candidates:
            if execution.sk in with_orders:
                continue  # its orders are settled already; settlement finishes it
            reason = "planning was interrupted before any order was stored: nothing was sent"
            self.executions.update_execution(
                execution, status="SKIPPED", summary={"orders": 0, "reason": reason, "errors": []}
            )
            self._alert("entry skipped" if execution.phase == "ENTRY" else "exit skipped",
                        {"user": uid, "execution": execution.sk, "message": reason})  # fmt: skip
            closed += 1
        return closed

    # -- plumbing --------------------------------------------------------------------------------
    def _adapter(self, cache: dict[str, Broker | None], uid: str, account_id: str) -> Broker | None:
        if account_id not in cache:
            try:
                cache[account_id] = self.settlement.closer.access.adapter(uid, account_id)
            except (DomainError, BrokerError) as error:
                log.warning("no adapter to recover with", extra={"account": account_id,
                                                                  "error": str(error)})  # fmt: skip
                cache[account_id] = None
        return cache[account_id]

    def _alarm(self, uid: str, order: OrderRecord, subject: str, error: dict[str, Any]) -> None:
        details = {
            "user": uid, "strategy": order.strategy_id, "account": order.account_id,
            "order": order.order_id, "tag": order.tag, "phase": order.phase,
            "message": error.get("message", ""),
        }  # fmt: skip
        try:
            execution = self.executions.get_execution(uid, order.execution)
            self.executions.add_event(
                execution, {"kind": "alert", "code": error.get("code"), **details}
            )
        except Exception:
            log.exception("alert event not recorded", extra=details)
        self._alert(subject, details)

    def _alert(self, subject: str, details: dict[str, Any]) -> None:
        fields = {k: v for k, v in details.items() if k != "message"}  # a reserved log key
        log.warning("%s: %s", subject, details.get("message", ""), extra=fields)
        if self.alert is not None:
            try:
                self.alert(subject, details)
            except Exception:
                log.exception("alert not delivered", extra=details)
