"""The kill switch: global, per account or per strategy, as one operation driven until flat.

Engaging is a conditional put of the switch's item, so two concurrent requests on one scope join
one operation instead of squaring off twice. The item blocks new entries at once (the planner
reads it), then the operation runs in *passes*: the request that created it runs the first pass,
and the driver (``jobs.kill_switch``: the clock process locally, a scheduled Lambda on AWS) runs
the next ones, with backoff, until a pass finds the scope flat. A pass never trusts a stale view:

1. it freezes the risk books in scope (no stop re-placed, no re-entry) and withdraws orders built
   but not sent yet (an entry planned before the switch never leaves; exits stay allowed);
2. per (strategy, account) it takes the close lease (``services.leases``) so no exit, risk close
   or re-entry acts at the same moment, cancels and settles every order still in flight, and
   acts only when none is left in an unknown state;
3. it checks the broker answers, reads the positions with strongly consistent reads and closes
   exactly what they hold with protected LIMIT orders (BUYs first), recorded under a KILL
   execution of the strategy, then reads the positions again.

The operation is FLAT only when a pass found nothing held and nothing in flight in scope: it never
reports success when nothing was closed. After ``ALERT_AFTER`` passes that could not finish, the
driver publishes an alert (once per operation); it keeps trying until flat or released.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from chalicelib.adapters.dynamo.kill_switch_items import (
    ALL,
    ENGAGING,
    FLAT,
    KillSwitchItem,
    KillSwitchRepository,
)
from chalicelib.adapters.dynamo.models import ExecutionItem, OrderItem, PositionItem
from chalicelib.adapters.dynamo.repository import Repository
from chalicelib.domain.calendar import IST
from chalicelib.domain.instrument import ContractKey
from chalicelib.domain.strategy import ExitReason
from chalicelib.errors import Conflict, DomainError, NotFound, ValidationFailed
from chalicelib.ports.broker_errors import BrokerError
from chalicelib.services.clock import Clock
from chalicelib.services.closing import closing_orders, holding_of_position, still_held
from chalicelib.services.leases import Leases
from chalicelib.services.risk_engine import RiskEngine
from chalicelib.services.settlement import TERMINAL, Settlement

log = logging.getLogger(__name__)
SCOPES = ("all", "account", "strategy")
LEASE_TTL = 45.0  # seconds: longer than one pair's cancel + send + settle
PASS_HOLD = 90.0  # seconds a pass claims its operation (longer than a whole pass)
PASS_BUDGET = 10.0  # a pass leaves the pairs it has not reached by then to the next pass
ALERT_AFTER = 3  # passes that could not finish before the operator is alerted
MAX_DELAY = 60.0
MAX_EVENTS = 30
Prices = dict[tuple[str, ContractKey], Decimal]  # (account, contract) -> last price


def blocking_reason(
    items: list[KillSwitchItem], strategy_id: str, account_id: str | None
) -> str | None:
    """Why an entry of ``strategy_id`` on ``account_id`` is refused, or None (pure)."""
    wanted = {("all", ALL), ("strategy", strategy_id), ("account", account_id or "")}
    for item in items:
        if (item.scope, item.target) in wanted:
            where = "all trading" if item.scope == "all" else f"{item.scope} {item.target}"
            why = f": {item.reason}" if item.reason else ""
            return f"kill switch on {where}, engaged by {item.engaged_by} at {item.engaged_at}{why}"
    return None


def retry_delay(attempts: int) -> float:
    """Seconds before the next pass: 2, 4, 8, 16, 32, then every minute."""
    return min(2.0 * 2 ** max(attempts - 1, 0), MAX_DELAY)


def in_flight(order: OrderItem) -> bool:
    """Sent (or claimed for sending) and not terminal: its fills may still change positions."""
    return order.status not in TERMINAL and order.status != "BUILT"


@dataclass
class PassOutcome:
    """What one pass did and what is left; ``flat`` only when nothing is held or in flight."""

    withdrawn: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    square_off: list[dict[str, Any]] = field(default_factory=list)
    open: list[dict[str, Any]] = field(default_factory=list)
    blocked: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    executions: dict[str, list[OrderItem]] = field(default_factory=dict)

    @property
    def flat(self) -> bool:
        return not (self.open or self.blocked or self.errors)

    def block(self, strategy_id: str, account_id: str, code: str, message: str) -> None:
        self.blocked.append(
            {"strategy_id": strategy_id, "account_id": account_id, "code": code,
             "message": message}
        )  # fmt: skip


@dataclass
class Drive:
    """One ``drive`` call: the operation as stored after it, whether this call ran the pass, and
    the alert to publish (None when there is nothing new to say)."""

    item: KillSwitchItem
    ran: bool
    alert: dict[str, Any] | None = None


@dataclass
class KillSwitch:
    store: KillSwitchRepository
    repo: Repository
    settlement: Settlement
    clock: Clock
    leases: Leases
    risk: RiskEngine | None = None
    budget: float = PASS_BUDGET
    monotonic: Callable[[], float] = time.monotonic

    # -- queries -------------------------------------------------------------------------------
    def active(self, uid: str) -> list[KillSwitchItem]:
        return self.store.active(uid)

    def blocks(self, uid: str, strategy_id: str, account_id: str | None = None) -> str | None:
        """The reason new entries of this strategy (on this account) are refused, or None."""
        return blocking_reason(self.store.active(uid), strategy_id, account_id)

    # -- commands ------------------------------------------------------------------------------
    def engage(
        self, uid: str, scope: str, target: str | None, *, who: str, reason: str = ""
    ) -> tuple[KillSwitchItem, bool]:
        """Create the scope's operation, or join the one already engaged: (item, created)."""
        target = self._target(uid, scope, target)
        now = self.clock().astimezone(IST)
        item = KillSwitchItem(
            *KillSwitchItem.key(uid, scope, target),
            uid=uid,
            scope=scope,
            target=target,
            reason=reason,
            engaged_by=who,
            engaged_at=_iso(now),
            operation_id=secrets.token_hex(6),
            status=ENGAGING,
            attempts=0,
            pass_until=0,
            summary=_empty_summary(),
            events=[],
        )
        item.schedule(_iso(now))
        for _ in range(3):  # a release racing the engage: try again
            if self.store.create(item):
                log.warning(
                    "kill switch engaged",
                    extra={"user": uid, "scope": scope, "target": target,
                           "operation": item.operation_id},
                )  # fmt: skip
                return item, True
            existing = self.store.get(uid, scope, target)
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

    def drive(self, item: KillSwitchItem, now: datetime | None = None) -> Drive:
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
        for item in self.store.due(_iso(moment)):
            try:
                driven.append(self.drive(item, moment))
            except Exception:  # one user's storage failure never stops the others' passes
                log.exception("kill switch drive failed", extra={"user": item.uid})
        return driven

    # -- one pass ------------------------------------------------------------------------------
    def run_pass(self, item: KillSwitchItem, now: datetime) -> PassOutcome:
        uid, scope, target = item.uid, item.scope, item.target
        day = now.date().isoformat()
        executions = self.settlement.executions
        outcome = PassOutcome()
        self.freeze_risk(uid, scope, target, now)
        orders = [
            o
            for o in executions.orders_on(uid, day, consistent=True)
            if _in_scope(scope, target, o.strategy_id, o.account_id)
        ]
        message = f"not sent: kill switch {item.operation_id} engaged"
        for order in orders:  # exits stay allowed: they close, and are trimmed at T
            unsent = order.status == "BUILT" and order.phase != "EXIT"
            if unsent and executions.withdraw_unsent(order, "kill_switch", message, at=_iso(now)):
                order.status = "CANCELLED"
                outcome.withdrawn.append(order.order_id)
        held = [
            p
            for p in executions.positions(
                uid, target if scope == "strategy" else None, consistent=True
            )
            if p.net_quantity
            and _in_scope(scope, target, p.strategy_id, p.account_id)
            and still_held(p, now.date())
        ]
        # Priced once for the whole scope: a dialect that cannot quote without its instrument
        # master (Noren, Angel...) is priced through another account of the user.
        prices = self._prices(uid, held)
        pairs = {(p.strategy_id, p.account_id) for p in held}
        pairs |= {(o.strategy_id, o.account_id) for o in orders if in_flight(o)}
        started = self.monotonic()
        for strategy_id, account_id in sorted(pairs):
            if self.monotonic() - started > self.budget:
                outcome.block(strategy_id, account_id, "deferred", "left for the next pass")
                continue
            try:
                self.close_pair(item, strategy_id, account_id, day, now, outcome, prices)
            except (DomainError, BrokerError) as error:  # the other pairs still close
                log.warning("kill switch pair failed", extra={"user": uid, "error": str(error)})
                outcome.block(strategy_id, account_id, "error", str(error))
        for execution_sk, sent in outcome.executions.items():
            try:  # the execution's status only: fills already reached the positions
                self.settlement.settle(uid, execution_sk, orders=sent)
            except DomainError as error:
                log.warning("kill execution not settled", extra={"execution": execution_sk})
                outcome.errors.append({"code": "not_settled", "message": str(error)})
        return outcome

    def close_pair(
        self,
        item: KillSwitchItem,
        strategy_id: str,
        account_id: str,
        day: str,
        now: datetime,
        outcome: PassOutcome,
        prices: Prices,
    ) -> None:
        """Under the close lease: settle what is in flight, then close exactly what is held."""
        uid, owner = item.uid, f"kill:{item.operation_id}"
        if not self.leases.acquire(uid, strategy_id, account_id, owner, LEASE_TTL):
            outcome.block(strategy_id, account_id, "lease_busy", "another close is in progress")
            return
        try:
            if not self._settle_in_flight(uid, strategy_id, account_id, day, outcome):
                return
            sent = self._square_off(item, strategy_id, account_id, day, now, outcome, prices)
            left = self._held(uid, strategy_id, account_id)
            outcome.open += [
                {"strategy_id": strategy_id, "account_id": account_id, "symbol": p.symbol,
                 "net_quantity": int(p.net_quantity)}
                for p in left
            ]  # fmt: skip
            if any(in_flight(o) for o in sent):
                outcome.block(
                    strategy_id, account_id, "in_flight", "square-off orders not filled yet"
                )
        finally:
            self.leases.release(uid, strategy_id, account_id, owner)

    def _settle_in_flight(
        self, uid: str, strategy_id: str, account_id: str, day: str, outcome: PassOutcome
    ) -> bool:
        """Cancel and settle the pair's open orders (stops, exits, earlier square-offs), and
        check the broker answers; False (blocked) while anything is in an unknown state."""
        executions = self.settlement.executions
        mine = [
            o
            for o in executions.orders_on(uid, day, consistent=True)
            if o.strategy_id == strategy_id and o.account_id == account_id
        ]
        live = [o for o in mine if in_flight(o)]
        if live:
            outcome.cancelled += [o.order_id for o in self.settlement.cancel_open(uid, live)]
            self.settlement.reconcile(uid, live)
        try:
            adapter = self.settlement.closer.access.adapter(uid, account_id)
            book = {s.tag: s for s in adapter.order_book() if s.tag}
        except (BrokerError, DomainError) as error:
            outcome.block(strategy_id, account_id, "broker_unavailable", str(error))
            return False
        for order in mine:  # recorded as failed, yet the broker has it: its fills count
            state = book.get(order.tag)
            if order.status == "FAILED" and not order.broker_order_id and state is not None:
                # the broker's word wins over "never sent": acknowledged first (FAILED -> OPEN,
                # a lifecycle transition), then its status and fills as for any order
                self.settlement.executions.record_ack(
                    order, state.order_id, sent_at=None, acked_at=_iso(self.clock()),
                    recovered=True, message="listed by the broker under its tag",
                )  # fmt: skip
                if order.broker_order_id == state.order_id:
                    self.settlement.record(order, state)
                live.append(order)
        waiting = [o.order_id for o in live if in_flight(o)]
        if waiting:
            outcome.block(
                strategy_id, account_id, "in_flight",
                f"orders still open at the broker: {', '.join(waiting)}",
            )  # fmt: skip
            return False
        return True

    def _square_off(
        self,
        item: KillSwitchItem,
        strategy_id: str,
        account_id: str,
        day: str,
        now: datetime,
        outcome: PassOutcome,
        prices: Prices,
    ) -> list[OrderItem]:
        holdings = [holding_of_position(p) for p in self._held(item.uid, strategy_id, account_id)]
        if not holdings:
            return []
        closer = self.settlement.closer
        if any((h.account_id, h.key) not in prices for h in holdings):
            prices = {**prices, **closer.prices(item.uid, holdings)[0]}  # held since the pass began
        children, refused = closing_orders(
            strategy_id, holdings, prices, closer.market, phase="KILL", on=now.date()
        )
        outcome.errors += [{"strategy_id": strategy_id, **e} for e in refused]
        if not children:
            return []
        execution = self._execution(item, strategy_id, day, now)
        sent = closer.send_closing(
            item.uid, execution.sk, strategy_id, children, phase=execution.phase
        )
        self.settlement.reconcile(item.uid, sent)
        outcome.executions.setdefault(execution.sk, []).extend(sent)
        outcome.square_off += [_view(o) for o in sent]
        return sent

    def _prices(self, uid: str, held: Sequence[PositionItem]) -> Prices:
        if not held:
            return {}
        prices, missing = self.settlement.closer.prices(uid, [holding_of_position(p) for p in held])
        if missing:
            log.warning("kill switch prices incomplete", extra={"user": uid, "missing": missing})
        return prices

    def _held(self, uid: str, strategy_id: str, account_id: str) -> list[PositionItem]:
        return [
            p
            for p in self.settlement.executions.positions(uid, strategy_id, consistent=True)
            if p.account_id == account_id
            and p.net_quantity
            and still_held(p, self.clock().astimezone(IST).date())
        ]

    def _execution(
        self, item: KillSwitchItem, strategy_id: str, day: str, now: datetime
    ) -> ExecutionItem:
        """The strategy's KILL execution of this pass (shared by its accounts)."""
        executions = self.settlement.executions
        phase = f"KILL{item.operation_id}P{int(item.attempts) + 1}"
        created = executions.open_execution(
            item.uid, day, strategy_id, phase, now.isoformat(), f"kill:{item.operation_id}"
        )
        if created is not None:
            return created
        return executions.get_execution(
            item.uid, ExecutionItem.key(item.uid, day, strategy_id, phase)[1]
        )

    def freeze_risk(self, uid: str, scope: str, target: str, now: datetime) -> None:
        """Stop the price monitor acting in scope (no stop re-placed, no re-entry) and cancel its
        orders, before the square-off: a stop never fires on a position the switch closed."""
        if self.risk is None:
            return
        day = now.date().isoformat()
        for book in self.risk.books.of_user(uid, day):
            if scope == "strategy" and book.strategy_id != target:
                continue
            account = target if scope == "account" else None
            self.risk.freeze(uid, day, book.strategy_id, ExitReason.KILL_SWITCH, account)

    # -- recording -----------------------------------------------------------------------------
    def _record(self, item: KillSwitchItem, outcome: PassOutcome, now: datetime) -> Drive:
        item.attempts = int(item.attempts) + 1
        summary = {**_empty_summary(), **(item.summary or {})}
        summary["withdrawn"] = _merge(summary["withdrawn"], outcome.withdrawn)
        summary["cancelled"] = _merge(summary["cancelled"], outcome.cancelled)
        summary["square_off"] = list(summary["square_off"]) + outcome.square_off
        summary.update(open=outcome.open, blocked=outcome.blocked, errors=outcome.errors)
        item.summary = summary
        event: dict[str, Any] = {
            "at": _iso(now), "kind": "pass", "attempt": item.attempts, "flat": outcome.flat,
            "sent": len(outcome.square_off), "blocked": sorted({b["code"] for b in outcome.blocked}),
        }  # fmt: skip
        events = [*(item.events or []), event]
        alert = None
        if outcome.flat:
            item.status, item.flat_at = FLAT, _iso(now)
            item.schedule(None)
        else:
            item.schedule(_iso(now + timedelta(seconds=retry_delay(item.attempts))))
            if item.attempts >= ALERT_AFTER and not item.alerted:
                item.alerted = 1
                alert = {
                    "user": item.uid, "scope": item.scope, "target": item.target,
                    "operation": item.operation_id, "attempts": item.attempts,
                    "open": outcome.open, "blocked": outcome.blocked, "errors": outcome.errors,
                    "message": "the kill switch cannot square off yet; it keeps retrying",
                }  # fmt: skip
                events.append({"at": _iso(now), "kind": "alert", "code": "kill_switch_stalled"})
                log.error(
                    "kill switch stalled",
                    extra={"user": item.uid, "operation": item.operation_id,
                           "attempts": item.attempts},
                )  # fmt: skip
        item.events = events[-MAX_EVENTS:]
        item.pass_until = 0
        if not self.store.save(item):  # released meanwhile: nothing more to do
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
            self.repo.get_account(uid, target)
        else:
            self.repo.get_strategy(uid, target)
        return target


def _in_scope(scope: str, target: str, strategy_id: str, account_id: str) -> bool:
    return (
        scope == "all"
        or (scope == "strategy" and strategy_id == target)
        or (scope == "account" and account_id == target)
    )


def _empty_summary() -> dict[str, Any]:
    return {"withdrawn": [], "cancelled": [], "square_off": [], "open": [], "blocked": [],
            "errors": []}  # fmt: skip


def _merge(first: Sequence[str], more: Sequence[str]) -> list[str]:
    return list(dict.fromkeys([*first, *more]))


def _view(order: OrderItem) -> dict[str, Any]:
    request = order.request
    contract = " ".join(
        str(request.get(k, "")) for k in ("underlying", "strike", "option_type", "expiry")
    ).strip()
    return {
        "order_id": order.order_id,
        "strategy_id": order.strategy_id,
        "account_id": order.account_id,
        "side": request["side"],
        "quantity": int(request["quantity"]),
        "contract": contract or None,  # what the trader reads in the notification
        "status": order.status,
        "filled_quantity": int(order.filled_quantity),
        "average_price": order.average_price,
    }


def _iso(moment: datetime) -> str:
    return moment.astimezone(IST).isoformat(timespec="milliseconds")
