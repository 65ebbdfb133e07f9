"""Settlement: from acknowledged orders to terminal states, positions and an execution outcome.

An acknowledgement is not a fill. Settlement polls each order's broker status with a bounded
exponential backoff, stores every transition (status, filled quantity, average price, the
broker's message) in the order's ``history``, and applies each new fill to the strategy's
position exactly once (the store's ``apply_fill``: a fill is the broker's cumulative
filled quantity of one order id, applied in one transaction with the order's applied level). A
partial fill is applied when it is seen, the rest when a later poll or sweep sees it, so the
platform holds what the broker holds even while an order rests.

Positions are keyed by the canonical symbol ``UNDERLYING-YYYY-MM-DD-STRIKE-TYPE``
(``closing.canonical_symbol``); the broker's tradingsymbol is kept in the position's contract.

Failure policy (entries only): when a leg ends REJECTED / CANCELLED / FAILED (placement error)
while other legs filled, the strategy's ``on_leg_failure`` decides. UNWIND (the default) cancels
the entry's still-open orders and closes every filled quantity on every account with protected
LIMIT orders (tags unique per day, phase letter "U"), settled like any other order; the execution
ends UNWOUND when they all complete. KEEP records an alert event and keeps the fills.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from chalicelib.domain import order_lifecycle as lc
from chalicelib.domain.calendar import IST
from chalicelib.domain.fills import has_unapplied_fill
from chalicelib.domain.records import ExecutionRecord, OrderRecord
from chalicelib.errors import DomainError, NotFound
from chalicelib.ports.broker import Broker, OrderState, OrderStatus, Side
from chalicelib.ports.broker_errors import BrokerError
from chalicelib.ports.settlement import SettlementStore, StrategySpecs
from chalicelib.services.clock import Clock
from chalicelib.services.closing import canonical_symbol, closing_orders, contract_doc, contract_key
from chalicelib.services.exits import PositionCloser
from chalicelib.services.order_sender import stamp
from chalicelib.services.settlement_rules import (
    AMBIGUOUS,
    FAILED,
    TERMINAL,
    entry_holdings,
    leg_failed_after_fill,
    order_views,
    outcome,
    pending,
    resendable,
    unapplied,
)

__all__ = ["AMBIGUOUS", "FAILED", "TERMINAL", "Backoff", "Settlement", "SettlementReport"]
log = logging.getLogger(__name__)

#: Canonical broker status -> the order item's status (in-flight states are "OPEN", or
#: "PARTIAL" once some quantity filled).
ITEM_STATUS = {
    OrderStatus.PENDING: "OPEN",
    OrderStatus.OPEN: "OPEN",
    OrderStatus.TRIGGER_PENDING: "OPEN",
    OrderStatus.COMPLETE: "COMPLETE",
    OrderStatus.CANCELLED: "CANCELLED",
    OrderStatus.REJECTED: "REJECTED",
}


@dataclass(frozen=True)
class Backoff:
    """Poll delays: ``first`` then x``factor`` up to ``cap``; give up after ``deadline`` seconds."""

    first: float = 0.25
    factor: float = 2.0
    cap: float = 2.0
    deadline: float = 30.0


@dataclass
class SettlementReport:
    execution: str
    status: str
    settled: bool
    orders: list[dict[str, Any]] = field(default_factory=list)
    unwind: list[dict[str, Any]] = field(default_factory=list)
    policy: str | None = None


@dataclass
class Settlement:
    executions: SettlementStore
    repo: StrategySpecs
    closer: PositionCloser
    clock: Clock
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    backoff: Backoff = field(default_factory=Backoff)
    #: (step, order) -> None; the fault-matrix tests raise here to simulate a crash.
    checkpoint: Callable[[str, OrderRecord], None] | None = None
    #: Whether the deadline records a closing order (exit, unwind) the broker never received
    #: FAILED. Only the kill switch does (it closes everything held itself, in the same pass,
    #: under the close lease); for everyone else such an order stays in doubt and the recovery
    #: sweep resends it once under a new tag (docs/order-lifecycle.md).
    fail_closing: bool = False

    # -- the use case ----------------------------------------------------------------------------
    def settle(
        self,
        uid: str,
        execution_sk: str,
        *,
        orders: Sequence[OrderRecord] | None = None,
        on_leg_failure: str | None = None,
        give_up: bool = True,
    ) -> SettlementReport:
        """Reconcile an execution's orders, apply fills, decide its status (and unwind).

        ``give_up=False`` (the recovery sweep) never turns an order without a broker id into
        FAILED at the deadline: the sweep decides that after its own lookups.
        """
        execution = self.executions.get_execution(uid, execution_sk)
        items = list(orders) if orders is not None else self._orders(uid, execution_sk)
        own = [o for o in items if o.phase == execution.phase]
        if execution.status == "WAITING" and not own:  # every leg waits (the monitor enters)
            return SettlementReport(execution_sk, execution.status, True, [])
        settled = self.reconcile(uid, own, give_up=give_up)
        report = SettlementReport(execution_sk, execution.status, settled, order_views(own))
        if execution.phase == "ENTRY" and leg_failed_after_fill(own):
            policy = on_leg_failure or self._policy(uid, execution.strategy_id)
            report.policy = policy
            earlier = [o for o in items if o.phase == "UNWIND"]
            if policy == "KEEP":
                self._alert(execution, own)
            else:
                if earlier:  # a second run (retry, reconcile job) never unwinds twice
                    self.reconcile(uid, earlier)
                    report.unwind = order_views(earlier)
                elif self.executions.claim_unwind(execution, secrets.token_hex(8)):
                    report.unwind = self.unwind(execution, own)
                else:  # another settler is unwinding right now: its orders appear shortly
                    report.unwind = [{"status": "UNWINDING_ELSEWHERE"}]
                report.orders = order_views(own)
                unwound = all(u["status"] == "COMPLETE" for u in report.unwind)
                self._finish(execution, "UNWOUND" if unwound else "PARTIAL", own, report.unwind)
                report.status, report.settled = execution.status, unwound
                return report
        status = outcome(own) if settled else "SENT"
        self._finish(execution, status, own, [])
        report.status = execution.status
        return report

    def reconcile(self, uid: str, orders: Sequence[OrderRecord], *, give_up: bool = True) -> bool:
        """Poll until every sent order is terminal or the deadline passes; True when all are."""
        adapters: dict[str, Broker | None] = {}
        start = self.monotonic()
        delay = self.backoff.first
        while True:
            # a crash between a fill and its application leaves it terminal, unapplied: re-poll
            for order in [o for o in orders if pending(o) or unapplied(o)]:
                adapter = self._adapter(adapters, uid, order.account_id)
                if adapter is not None:
                    self.poll(adapter, order)
            if not any(pending(o) for o in orders):
                return True
            remaining = self.backoff.deadline - (self.monotonic() - start)
            if remaining <= 0:
                if give_up:
                    self._give_up(orders)
                return not any(pending(o) for o in orders)
            self.sleep(min(delay, remaining))
            delay = min(delay * self.backoff.factor, self.backoff.cap)

    def poll(self, adapter: Broker, order: OrderRecord) -> None:
        """One status read; records a transition and applies the fill at a terminal state."""
        try:
            if not order.broker_order_id and self.locate(adapter, order) != "found":
                return
            state = adapter.status(str(order.broker_order_id))
        except BrokerError as error:
            log.warning(
                "order status unavailable",
                extra={"account": order.account_id, "tag": order.tag, "error": error.kind},
            )
            return
        self.record(order, state)

    def record(self, order: OrderRecord, state: OrderState) -> None:
        """A broker status into the order (``record_status``; closing it when terminal)."""
        status = ITEM_STATUS[state.status]
        if status == lc.OPEN and state.filled_quantity > 0:
            status = lc.PARTIAL
        entry = {
            "at": stamp(self.clock()),
            "status": status,
            "broker_status": state.broker_status or state.status.value,
            "filled_quantity": state.filled_quantity,
            "average_price": None if state.average_price is None else str(state.average_price),
            "message": state.message,
        }
        history = list(order.history or [])
        last = history[-1] if history else {}
        changed = any(entry[k] != last.get(k) for k in ("status", "filled_quantity", "average_price", "message"))  # fmt: skip
        if changed:
            history.append(entry)
        order.history = history
        order.status = status
        order.filled_quantity = state.filled_quantity
        order.average_price = entry["average_price"]
        if has_unapplied_fill(order):
            self.apply(order, state.symbol)
        elif changed:
            self.executions.record_status(order)

    def apply(self, order: OrderRecord, broker_symbol: str) -> None:
        """The order's new fills (its cumulative quantity at its average price) into the
        strategy's position, once."""
        if self.checkpoint is not None:
            self.checkpoint("in_fill", order)
        key = contract_key(order.request)
        price = Decimal(order.average_price or order.request["limit_price"])
        applied = self.executions.apply_fill(
            order,
            canonical_symbol(key),
            contract_doc(order.request, broker_symbol),
            int(order.filled_quantity),
            price,
        )
        if not applied:  # applied by a concurrent settler: keep our history anyway
            self.executions.record_status(order)

    # -- failure policy --------------------------------------------------------------------------
    def unwind(
        self, execution: ExecutionRecord, orders: Sequence[OrderRecord]
    ) -> list[dict[str, Any]]:
        """Cancel what still rests, then close every filled quantity of the entry."""
        uid = execution.uid
        self.cancel_open(uid, orders)
        self.reconcile(uid, orders)
        held = entry_holdings(orders)
        prices, errors = self.closer.prices(uid, held)
        children, refused = closing_orders(
            execution.strategy_id, held, prices, self.closer.market, phase="UNWIND",
            on=self.clock().astimezone(IST).date(),
        )  # fmt: skip
        sent = self.closer.send_closing(
            uid, execution.sk, execution.strategy_id, children, phase="UNWIND"
        )
        self.reconcile(uid, sent)
        self.executions.add_event(
            execution,
            {
                "kind": "unwind",
                "policy": "UNWIND",
                "orders": [o.order_id for o in sent],
                "errors": errors + refused,
            },
        )
        return order_views(sent) + [{"status": "NOT_SENT", **e} for e in errors + refused]

    def cancel_open(self, uid: str, orders: Iterable[OrderRecord]) -> list[OrderRecord]:
        """Ask the broker to cancel every acknowledged, non-terminal order (outcome via status)."""
        asked = []
        adapters: dict[str, Broker | None] = {}
        for order in orders:
            if order.status in TERMINAL or not order.broker_order_id:
                continue
            adapter = self._adapter(adapters, uid, order.account_id)
            if adapter is None:
                continue
            try:
                adapter.cancel(order.broker_order_id)
                asked.append(order)
            except BrokerError as error:
                log.warning(
                    "cancel failed", extra={"account": order.account_id, "error": error.kind}
                )
        return asked

    def _alert(self, execution: ExecutionRecord, orders: Sequence[OrderRecord]) -> None:
        failed = [o.order_id for o in orders if o.status in FAILED]
        log.warning(
            "entry leg failed after fills; policy KEEP",
            extra={"user": execution.uid, "strategy": execution.strategy_id, "orders": failed},
        )
        self.executions.add_event(
            execution,
            {"kind": "alert", "code": "leg_failed", "policy": "KEEP", "failed_orders": failed},
        )

    # -- plumbing --------------------------------------------------------------------------------
    def _finish(
        self,
        execution: ExecutionRecord,
        status: str,
        orders: Sequence[OrderRecord],
        unwind: Sequence[dict[str, Any]],
    ) -> None:
        summary = {
            "orders": len(orders),
            "complete": sum(o.status == "COMPLETE" for o in orders),
            "failed": sum(o.status in FAILED for o in orders),
            "open": sum(pending(o) for o in orders),
            "unwind_orders": len(unwind),
        }
        if execution.status == status and execution.summary == summary:
            return  # settled again with nothing new (a sweep, a retry): no event
        self.executions.update_execution(execution, status=status, summary=summary)
        self.executions.add_event(execution, {"kind": "settled", "status": status, **summary})

    def _orders(self, uid: str, execution_sk: str) -> list[OrderRecord]:
        return self.executions.orders_of_execution(uid, execution_sk)

    def _policy(self, uid: str, strategy_id: str) -> str:
        try:
            spec = self.repo.get_strategy(uid, strategy_id).spec
        except NotFound:
            return "UNWIND"
        return str((spec.get("risk") or {}).get("on_leg_failure") or "UNWIND")

    def _adapter(self, cache: dict[str, Broker | None], uid: str, account_id: str) -> Broker | None:
        if account_id not in cache:
            try:
                cache[account_id] = self.closer.access.adapter(uid, account_id)
            except (DomainError, BrokerError) as error:
                log.warning(
                    "no adapter to settle with", extra={"account": account_id, "error": str(error)}
                )
                cache[account_id] = None
        return cache[account_id]

    def locate(self, adapter: Broker, order: OrderRecord) -> str:
        """An order without a broker id (claimed, sent or unknown): look its tag up.

        "found" (recorded acknowledged, ``record_ack``), "absent" (no order with this tag yet:
        the order book may lag, callers decide when absence is final) or "ambiguous" (several
        orders carry the tag: never guessed, left for a human with an alert).
        """
        side = Side(order.request["side"])
        found = [
            s
            for s in adapter.find_by_tag(order.tag)
            if (s.side is None or s.side == side) and s.quantity == int(order.request["quantity"])
        ]
        if len(found) > 1:
            if order.status != lc.UNKNOWN:
                self.executions.record_unknown(
                    order,
                    {"kind": "unknown", "code": AMBIGUOUS, "message": f"{len(found)} orders "
                     f"carry tag {order.tag} at the broker: resolve by hand"},
                    at=stamp(self.clock()),
                )  # fmt: skip
            return "ambiguous"
        if not found:
            return "absent"
        self.executions.record_ack(
            order,
            found[0].order_id,
            sent_at=None,
            acked_at=stamp(self.clock()),
            recovered=True,
            message="found at the broker by its tag",
        )
        return "found" if order.broker_order_id == found[0].order_id else "ambiguous"

    def _give_up(self, orders: Iterable[OrderRecord]) -> None:
        """At the deadline an order the broker never acknowledged (nor lists by tag, after
        polling for the whole deadline) never reached it: failed-never-sent. Never one whose
        claim is live (its firer may be sending it: ``lc.CLAIM_LIFETIME_SECONDS``), and never a
        closing order that may still be resent (``fail_closing``): those stay in doubt."""
        claimed_before = lc.stale_claims_before(self.clock())
        for order in orders:
            ambiguous = (order.error or {}).get("code") == AMBIGUOUS
            if order.status not in lc.IN_DOUBT or order.broker_order_id or ambiguous:
                continue
            if resendable(order) and not self.fail_closing:
                continue  # the recovery sweep resends it once, through the exit guard
            self.executions.record_failed(
                order,
                lc.FAILED,
                {
                    "kind": "never_sent",
                    "code": "never_sent",
                    "message": "no order with this tag at the broker after the deadline",
                },
                at=stamp(self.clock()),
                claimed_before=claimed_before,
            )
