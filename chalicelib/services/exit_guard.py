"""The firer's hook at an exit: every exit closes what is held at T, never more.

Exit orders are built a little before T from the positions; between then and T a kill switch may
have squared the strategy off, a stop may have filled or the monitor may have closed a leg on its
target. At T, in the account's own worker, for every strategy of the exit (with or without risk
rules) the hook:

1. takes the close lease of (user, strategy, account) (``services.leases``), waiting for another
   closer (a kill-switch pass, a risk close) to finish; the firer sends right after this hook
   returns, and the lease is given back once the exit's orders are settled (every one ended:
   ``jobs.risk.release_exit_leases``, after settlement) or else expires (``LEASE_TTL``);
2. freezes the strategy's risk book for the account, if it has one (the monitor stops acting)
   and cancels its stop / risk orders; a stop whose cancel the broker does not confirm stays
   with the monitor (``RiskEngine.held_back``): the exit leaves its units and orders alone;
3. cancels and settles every other order of the strategy on the account still in flight (a
   kill-switch square-off resting, a stop whose cancel is unconfirmed): while one stays in an
   unknown state, what is held is unknown, so the exit is not sent (held back, below) rather
   than risk closing twice. A sibling claimed by another firer is never recorded failed under
   it while its claim is live (``lc.CLAIM_LIFETIME_SECONDS``), nor is a closing sibling the
   broker never received (the recovery sweep resends it once);
4. reads the positions with strongly consistent reads and trims every exit order to what is
   still held: an order with nothing left to close is recorded CANCELLED and never sent; every
   order that goes out is first confirmed as still this firer's claim (``renew_claim``, which
   also renews the claim's age): an order someone else recorded never sent or reopened
   meanwhile is refused by that condition and not sent;
5. closes what is held beyond the plan too (a re-entry that filled after the exit was planned,
   a fill that reached the positions late): closing orders for the rest are written claimed
   into the exit's execution (write before send) and handed to the firer with the others.

When any of this fails (storage down, another closer holding the lease too long, an order in an
unknown state), the strategy's exit orders on the account are held back: they stay claimed and
unsent (``hold_back``, with the reason and a ``closing_held_back`` alert) and the lease is given
back; the recovery sweep finds them absent at the broker and resends each once under a new tag
(``<tag>R``), through this guard, under the close lease, once their claim is stale. An exit sent
unchecked after a kill switch or a stop closed the position would open a reversed, possibly
naked position. Every write here is a named operation of the execution store, conditioned on
the claim (``adapters/dynamo/claim_transitions.py``).
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, Protocol, cast

from chalicelib.domain.calendar import IST
from chalicelib.domain.records import OrderRecord, RiskBookRecord
from chalicelib.domain.strategy import ExitReason
from chalicelib.ports.broker import OrderRequest
from chalicelib.ports.closing import ExitGuardStore
from chalicelib.services.clock import Clock
from chalicelib.services.closing import canonical_symbol, closing_orders, holding_of_position
from chalicelib.services.guards import CLOSED, EXITING, ORDER_FIELDS, Guard
from chalicelib.services.leases import Leases
from chalicelib.services.order_builder import ChildOrder
from chalicelib.services.order_sender import order_request, stamp
from chalicelib.services.settlement import TERMINAL, Settlement

log = logging.getLogger(__name__)
LEASE_TTL = 15.0  # seconds: the firer sends the account's orders right after the hook
PATIENCE = 20.0  # seconds to wait for another closer (a live kill-switch pass acts in ~15 s)
Alert = Callable[[str, dict[str, Any]], None]


def exit_lease_owner(strategy_id: str, on: date) -> str:
    """The prefix of every owner of the close lease while the exit at T of ``strategy_id``
    closes (each guard call adds its own token, so two firers never share a lease)."""
    return f"exit:{strategy_id}:{on.isoformat()}"


class RiskFreeze(Protocol):
    """What the guard needs of the risk engine (``RiskEngine``): its clock, and freezing a
    strategy's book on the account (the monitor stops acting) with the units the monitor still
    finishes itself."""

    clock: Clock

    def freeze(
        self,
        uid: str,
        trade_date: str,
        strategy_id: str,
        reason: ExitReason,
        account_id: str | None,
    ) -> RiskBookRecord | None: ...

    def held_back(self, book: RiskBookRecord, account_id: str | None) -> dict[str, int]: ...


@dataclasses.dataclass(frozen=True)
class NotSent:
    """Why a strategy's exit orders on this account cannot be sent now."""

    code: str
    message: str


@dataclasses.dataclass
class ExitGuard:
    engine: RiskFreeze
    leases: Leases
    settlement: Settlement
    patience: float = PATIENCE
    #: (subject, details) -> the operator's alert (SNS on AWS); the trader's is an event.
    alert: Alert | None = None
    #: The execution store; the settlement's own when not given (one store in production).
    store: ExitGuardStore | None = None

    @property
    def executions(self) -> ExitGuardStore:
        """``store``, else the settlement's: the same execution store in production."""
        if self.store is not None:
            return self.store
        return cast("ExitGuardStore", self.settlement.executions)

    def __call__(
        self, orders: Sequence[OrderRecord], requests: Sequence[OrderRequest], adapter: Any
    ) -> tuple[list[OrderRecord], list[OrderRequest]]:
        exits = [o for o in orders if _closes(o)]
        if not exits:
            return list(orders), list(requests)
        first = exits[0]
        on = self.engine.clock().astimezone(IST).date()
        held: dict[str, dict[str, int] | NotSent] = {}
        for strategy_id in sorted({o.strategy_id for o in exits}):
            own = {o.order_id for o in exits if o.strategy_id == strategy_id}
            try:
                held[strategy_id] = self.held_at_t(
                    first.uid, first.account_id, strategy_id, on, own
                )
            except Exception as error:  # unchecked, an exit could reverse a closed position
                log.exception(
                    "exit not sent: what is held could not be checked",
                    extra={"user": first.uid, "strategy": strategy_id},
                )
                held[strategy_id] = NotSent(
                    "unchecked", f"not sent: what is held could not be read ({error})"
                )
        kept: list[OrderRecord] = []
        kept_requests: list[OrderRequest] = []
        left: dict[tuple[str, str], int] = {}
        for order, request in zip(orders, requests, strict=True):
            if not _closes(order):
                kept.append(order)
                kept_requests.append(request)
                continue
            verdict = held[order.strategy_id]
            if isinstance(verdict, NotSent):
                self._hold_back(order, verdict)
                continue
            child = ChildOrder.from_dict(order.request)
            slot = (order.strategy_id, canonical_symbol(child.key))
            net = left.get(slot, verdict.get(slot[1], 0))
            closes = -net if child.side == "BUY" else net  # units this side can still close
            quantity = min(child.quantity, max(closes, 0))
            if quantity <= 0:
                message = (
                    "not sent: nothing left to close (closed by a stop, target or kill switch)"
                )
                self._cancel_unsent(order, message)
                continue
            trimmed = {**order.request, "quantity": quantity}
            if not self._renew(order, trimmed if quantity != child.quantity else None):
                continue  # no longer ours: recorded never sent or reopened by someone else
            left[slot] = net + (quantity if child.side == "BUY" else -quantity)
            if quantity != child.quantity:
                request = dataclasses.replace(request, quantity=quantity)
            kept.append(order)
            kept_requests.append(request)
        for strategy_id, verdict in held.items():
            planned_exit = any(o.phase == "EXIT" for o in exits if o.strategy_id == strategy_id)
            if isinstance(verdict, NotSent) or not planned_exit:
                continue  # a resent unwind closes its own units, never the strategy's others
            rest = {symbol: left.get((strategy_id, symbol), net) for symbol, net in verdict.items()}
            if any(rest.values()):
                execution = next(o.execution for o in exits if o.strategy_id == strategy_id)
                try:
                    more = self.beyond_the_plan(first, execution, strategy_id, rest)
                except Exception:  # the planned (trimmed) orders still go out
                    log.exception(
                        "exit: units held beyond the plan not closed",
                        extra={"user": first.uid, "strategy": strategy_id, "rest": rest},
                    )
                    continue
                kept += [o for o, _ in more]
                kept_requests += [r for _, r in more]
        return kept, kept_requests

    def beyond_the_plan(
        self, first: OrderRecord, execution: str, strategy_id: str, rest: dict[str, int]
    ) -> list[tuple[OrderRecord, OrderRequest]]:
        """Closing orders for units held at T that no planned exit order closes, written claimed
        (SENDING) into the exit's execution before the firer sends them: a crash between the
        two leaves orders the recovery sweep resolves by tag, never a position forgotten."""
        uid, account_id = first.uid, first.account_id
        closer = self.settlement.closer
        holdings = [
            dataclasses.replace(holding, net_quantity=rest[p.symbol])
            for p in self.executions.positions(uid, strategy_id, consistent=True)
            if p.account_id == account_id and rest.get(p.symbol)
            for holding in [holding_of_position(p)]
        ]
        if not holdings:
            return []
        now = self.engine.clock()
        prices, missing = closer.prices(uid, holdings)
        children, refused = closing_orders(
            strategy_id, holdings, prices, closer.market, phase="XIT", on=now.date()
        )
        if missing or refused:
            log.error(
                "exit: units held beyond the plan cannot be closed now",
                extra={"user": uid, "strategy": strategy_id, "errors": [*missing, *refused]},
            )
        items = [
            self.executions.new_order(uid, execution, strategy_id, "EXIT", child, now)
            for child in children
        ]
        self.executions.put_claimed(items, "exit-hook", at=stamp(now))
        log.warning(
            "exit closes units held beyond its plan",
            extra={"user": uid, "strategy": strategy_id, "orders": [i.order_id for i in items]},
        )
        return [(item, order_request(ChildOrder.from_dict(item.request), closer.market))
                for item in items]  # fmt: skip

    def held_at_t(
        self, uid: str, account_id: str, strategy_id: str, on: date, own: set[str]
    ) -> dict[str, int] | NotSent:
        """Net units per symbol the strategy holds on the account now, or why we cannot know.

        The lease's owner names this call (``exit_lease_owner`` plus a token): two firers' guards
        of one exit (a restarted clock, the recovery sweep) never share it. It is given back when
        nothing will be sent, or by the settle step once the exit's orders have ended."""
        owner = f"{exit_lease_owner(strategy_id, on)}:{secrets.token_hex(4)}"
        if not self.leases.wait(
            uid, strategy_id, account_id, owner, LEASE_TTL, patience=self.patience
        ):
            log.error(
                "exit not sent: another close holds the lease",
                extra={"user": uid, "strategy": strategy_id, "account": account_id},
            )
            return NotSent("lease_busy", "not sent: another close of this position is running")
        try:
            verdict = self._held_under_lease(uid, account_id, strategy_id, on, own)
        except BaseException:
            self.leases.release(uid, strategy_id, account_id, owner)
            raise
        if isinstance(verdict, NotSent):
            self.leases.release(uid, strategy_id, account_id, owner)
        return verdict

    def _held_under_lease(
        self, uid: str, account_id: str, strategy_id: str, on: date, own: set[str]
    ) -> dict[str, int] | NotSent:
        book = self.engine.freeze(
            uid, on.isoformat(), strategy_id, ExitReason.EXIT_TIME, account_id
        )
        # A stop whose cancel the broker did not confirm stays with the monitor, which closes
        # what it leaves: the exit leaves those units and those orders alone.
        kept = self.engine.held_back(book, account_id) if book is not None else {}
        monitored = _monitor_orders(book, account_id) if book is not None else set()
        executions = self.executions
        others = [
            o
            for o in executions.orders_on(uid, on.isoformat(), consistent=True)
            if o.strategy_id == strategy_id
            and o.account_id == account_id
            and o.order_id not in own
            and o.order_id not in monitored
            and o.status not in TERMINAL
            and o.status != "BUILT"
        ]
        if others:
            self.settlement.cancel_open(uid, others)
            self.settlement.reconcile(uid, others)
            unknown = [o.order_id for o in others if o.status not in TERMINAL]
            if unknown:
                log.error(
                    "exit not sent: orders in an unknown state",
                    extra={"user": uid, "strategy": strategy_id, "orders": unknown},
                )
                return NotSent(
                    "in_flight",
                    f"not sent: orders still open at the broker ({', '.join(unknown)}); "
                    "closing now could close twice",
                )
        return {
            p.symbol: int(p.net_quantity) - kept.get(p.symbol, 0)
            for p in executions.positions(uid, strategy_id, consistent=True)
            if p.account_id == account_id
        }

    def _renew(self, order: OrderRecord, request: dict[str, Any] | None) -> bool:
        """Confirm the claim just before the send (``renew_claim``); False: do not send it."""
        try:
            renewed = self.executions.renew_claim(
                order, order.claim_token or "", at=stamp(self.engine.clock()), request=request
            )
        except Exception:  # unconfirmed: held back like any order whose state is unknown
            log.exception("exit order claim not confirmed", extra={"order": order.order_id})
            self._hold_back(
                order, NotSent("unchecked", "not sent: its claim could not be confirmed")
            )
            return False
        if not renewed:
            log.warning(
                "exit order not sent: no longer this firer's claim",
                extra={"order": order.order_id, "status": order.status},
            )
        return renewed

    def _cancel_unsent(self, order: OrderRecord, message: str) -> None:
        """Nothing left to close: CANCELLED, never sent (only while still this claim's)."""
        log.info("exit order not sent", extra={"order": order.order_id, "code": "already_closed"})
        try:
            self.executions.cancel_unsent(
                order, order.claim_token or "", "already_closed", message,
                at=stamp(self.engine.clock()),
            )  # fmt: skip
        except Exception:  # left claimed: the recovery sweep resends it through this guard
            log.exception("exit order not recorded", extra={"order": order.order_id})

    def _hold_back(self, order: OrderRecord, verdict: NotSent) -> None:
        """Not sent now: left claimed with the reason, for the recovery sweep's single resend
        under a new tag through this guard; the trader and the operator are told."""
        message = f"{verdict.message}; the recovery sweep resends it once when its claim is stale"
        try:
            held = self.executions.hold_back(
                order, order.claim_token or "", verdict.code, message,
                at=stamp(self.engine.clock()),
            )  # fmt: skip
        except Exception:  # left claimed all the same: the sweep finds it absent at the broker
            log.exception("exit order hold-back not recorded", extra={"order": order.order_id})
            held = True
        if not held:
            return  # someone else moved it meanwhile: theirs to tell
        details = {
            "user": order.uid, "strategy": order.strategy_id, "account": order.account_id,
            "order": order.order_id, "tag": order.tag, "code": verdict.code, "message": message,
        }  # fmt: skip
        log.error("closing order held back: %s", message,
                  extra={k: v for k, v in details.items() if k != "message"})  # fmt: skip
        try:
            executions = self.executions
            executions.add_event(
                executions.get_execution(order.uid, order.execution),
                {"kind": "alert", "code": "closing_held_back", "account_id": order.account_id,
                 "order": order.order_id, "reason": verdict.code, "message": message},
            )  # fmt: skip
        except Exception:
            log.exception("alert event not recorded", extra={"order": order.order_id})
        if self.alert is not None:
            try:
                self.alert("closing order held back", details)
            except Exception:
                log.exception("alert not delivered", extra={"order": order.order_id})


def _closes(order: OrderRecord) -> bool:
    """An exit, or a closing order resent by recovery (an unwind too): trimmed to what is held."""
    return order.phase == "EXIT" or bool(order.resent_from)


def _monitor_orders(book: RiskBookRecord, account_id: str) -> set[str]:
    """Orders of the guards the freeze handed back to the monitor (EXITING / CLOSED)."""
    return {
        order_id
        for doc in book.guards
        if doc["state"] in (EXITING, CLOSED) and doc["account_id"] == account_id
        for name in ORDER_FIELDS
        for order_id in Guard(doc).ids(name)
    }
