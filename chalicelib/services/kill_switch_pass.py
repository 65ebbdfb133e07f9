"""One pass of a kill-switch operation: withdraw, settle what is in flight, square off what is held.

A pass never trusts a stale view:

1. it freezes the risk books in scope (no stop re-placed, no re-entry) and withdraws orders built
   but not sent yet (an entry planned before the switch never leaves; exits stay allowed);
2. per (strategy, account) it takes the close lease (``services.leases``) so no exit, risk close
   or re-entry acts at the same moment, cancels and settles every order still in flight, and
   acts only when none is left in an unknown state;
3. it checks the broker answers, reads the positions with strongly consistent reads and closes
   exactly what they hold with protected LIMIT orders (BUYs first), recorded under a KILL
   execution of the strategy, then reads the positions again.

What it did and what is left is a ``PassOutcome``; ``services.kill_switch`` records it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from chalicelib.domain import order_lifecycle as lc
from chalicelib.domain.calendar import IST
from chalicelib.domain.instrument import ContractKey
from chalicelib.domain.kill_switch import PassOutcome, in_scope, iso
from chalicelib.domain.records import ExecutionRecord, KillSwitchRecord, OrderRecord, PositionRecord
from chalicelib.domain.strategy import ExitReason
from chalicelib.errors import Conflict, DomainError
from chalicelib.ports.broker_errors import BrokerError
from chalicelib.ports.kill_switch import KillSwitchExecutions
from chalicelib.services.clock import Clock
from chalicelib.services.closing import closing_orders, holding_of_position, still_held
from chalicelib.services.leases import Leases
from chalicelib.services.risk_engine import RiskEngine
from chalicelib.services.settlement import Settlement

log = logging.getLogger(__name__)
LEASE_TTL = 45.0  # seconds: longer than one pair's cancel + send + settle
PASS_BUDGET = 10.0  # a pass leaves the pairs it has not reached by then to the next pass
Prices = dict[tuple[str, ContractKey], Decimal]  # (account, contract) -> last price


def in_flight(order: OrderRecord) -> bool:
    """Sent (or claimed for sending) and not terminal: its fills may still change positions."""
    return order.status not in lc.TERMINAL and order.status != lc.BUILT


@dataclass
class SquareOff:
    """Runs passes; holds no state between them (the operation's record is the state)."""

    executions: KillSwitchExecutions
    settlement: Settlement
    clock: Clock
    leases: Leases
    risk: RiskEngine | None = None
    budget: float = PASS_BUDGET
    monotonic: Callable[[], float] = time.monotonic

    def run(self, item: KillSwitchRecord, now: datetime) -> PassOutcome:
        uid, scope, target = item.uid, item.scope, item.target
        day = now.date().isoformat()
        outcome = PassOutcome()
        self.freeze_risk(uid, scope, target, now)
        orders = [
            o
            for o in self.executions.orders_on(uid, day, consistent=True)
            if in_scope(scope, target, o.strategy_id, o.account_id)
        ]
        message = f"not sent: kill switch {item.operation_id} engaged"
        for order in orders:  # exits stay allowed: they close, and are trimmed at T
            unsent = order.status == lc.BUILT and order.phase != "EXIT"
            if unsent and self.executions.withdraw_unsent(
                order, "kill_switch", message, at=iso(now)
            ):
                outcome.withdrawn.append(order.order_id)
        held = [
            p
            for p in self.executions.positions(
                uid, target if scope == "strategy" else None, consistent=True
            )
            if p.net_quantity
            and in_scope(scope, target, p.strategy_id, p.account_id)
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
        item: KillSwitchRecord,
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
        mine = [
            o
            for o in self.executions.orders_on(uid, day, consistent=True)
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
            if order.status == lc.FAILED and not order.broker_order_id and state is not None:
                # the broker's word wins over "never sent": acknowledged first (FAILED -> OPEN,
                # a lifecycle transition), then its status and fills as for any order
                self.executions.record_ack(
                    order, state.order_id, sent_at=None, acked_at=iso(self.clock()),
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
        item: KillSwitchRecord,
        strategy_id: str,
        account_id: str,
        day: str,
        now: datetime,
        outcome: PassOutcome,
        prices: Prices,
    ) -> list[OrderRecord]:
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
        sent: list[OrderRecord] = list(
            closer.send_closing(
                item.uid, execution.sk, strategy_id, children, phase=execution.phase
            )
        )
        self.settlement.reconcile(item.uid, sent)
        outcome.executions.setdefault(execution.sk, []).extend(sent)
        outcome.square_off += [square_off_view(o) for o in sent]
        return sent

    def _prices(self, uid: str, held: Sequence[PositionRecord]) -> Prices:
        if not held:
            return {}
        prices, missing = self.settlement.closer.prices(uid, [holding_of_position(p) for p in held])
        if missing:
            log.warning("kill switch prices incomplete", extra={"user": uid, "missing": missing})
        return prices

    def _held(self, uid: str, strategy_id: str, account_id: str) -> list[PositionRecord]:
        return [
            p
            for p in self.executions.positions(uid, strategy_id, consistent=True)
            if p.account_id == account_id
            and p.net_quantity
            and still_held(p, self.clock().astimezone(IST).date())
        ]

    def _execution(
        self, item: KillSwitchRecord, strategy_id: str, day: str, now: datetime
    ) -> ExecutionRecord:
        """The strategy's KILL execution of this pass, shared by its accounts: the gate's token
        names the pass, so the account that comes second gets the execution the first created
        (and a pass re-run after a crash before its record reuses it)."""
        attempt = int(item.attempts) + 1
        phase = f"KILL{item.operation_id}P{attempt}"
        owner = f"kill:{item.operation_id}"
        execution = self.executions.open_execution(
            item.uid, day, strategy_id, phase, now.isoformat(), owner, token=f"{owner}:P{attempt}"
        )
        if execution is None:
            raise Conflict(f"the KILL execution {phase} of {strategy_id} belongs to another pass")
        return execution

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


def square_off_view(order: OrderRecord) -> dict[str, Any]:
    """A square-off order as the operation's summary keeps it (and the notification reads it)."""
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
