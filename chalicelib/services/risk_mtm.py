"""Strategy exits on P&L: the MTM rules over the strategy's (or each account's) positions.

A rule that fires exits every guard of its scope (its stop cancelled first, then only what it did
not fill closed, chased until flat), and positions no guard covers get an exit-only guard. The
exit lives in the guards, so a crash or a second monitor resumes it instead of redoing it. The
underlying's exits (``underlying_watch``) and a skipped waiting leg (``wait_trade``) exit a
scope the same way (``exit_scope``).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from chalicelib.domain.records import PositionRecord
from chalicelib.domain.risk import Book, locked_profit, mtm, mtm_exit
from chalicelib.domain.strategy import ExitReason, MtmScope
from chalicelib.services.closing import holding_of_position
from chalicelib.services.guards import (
    ARMED,
    CLOSED,
    DONE,
    EXITING,
    REENTERING,
    WAITING,
    Guard,
    entry_fills,
    exit_only_guard,
)
from chalicelib.services.order_sender import stamp
from chalicelib.services.re_execute import reentry_symbol
from chalicelib.services.risk_step_core import StepCore, as_text


class StrategyExits(StepCore):
    """A pass's MTM decisions (mixed into ``risk_step.BookStep``)."""

    def mtm_exit(self, positions: Sequence[PositionRecord]) -> None:
        """Check the strategy's (or each account's) P&L; when a rule says so, every guard of the
        scope starts exiting (its stop cancelled first, then only what it did not fill closed,
        chased until flat) and positions no guard covers get an exit-only guard. The exit lives
        in the guards, so a crash or a second monitor resumes it instead of redoing it."""
        risk = self.strategy.risk
        scopes: dict[str, list[PositionRecord]] = {"ALL": list(positions)}
        if risk.mtm_scope is MtmScope.ACCOUNT:
            scopes = {}
            for position in positions:
                scopes.setdefault(position.account_id, []).append(position)
        marks = self.book.mtm or {"peak": {}, "exited": {}}
        for scope, items in scopes.items():
            if scope in marks["exited"]:
                continue
            books = [
                Book(
                    int(p.net_quantity), Decimal(p.buy_value), Decimal(p.sell_value),
                    self.prices.get((p.account_id, holding_of_position(p).key)),
                )
                for p in items
            ]  # fmt: skip
            value = mtm(books)
            if value is None:
                if any(int(p.net_quantity) for p in items):
                    self.blind(scope, "no price for an open position: the MTM rule cannot act")
                continue
            peak = max(Decimal(marks["peak"].get(scope, "0")), value)
            before = Decimal(marks["peak"].get(scope, "0"))
            if locked_profit(peak, risk.lock_and_trail) != locked_profit(
                before, risk.lock_and_trail
            ):
                marks["peak"][scope] = str(peak)  # only a new floor is worth a write
                self.dirty = True
            reason = mtm_exit(value, peak, risk)
            if reason is None:
                continue
            marks["exited"][scope] = {"reason": reason.value, "mtm": str(value),
                                      "at": stamp(self.now)}  # fmt: skip
            account = None if scope == "ALL" else scope
            self.exit_scope(account, reason, items)
            self.book.mtm = marks
            self.dirty = True
            if not self.claim():
                return
            self.event(
                "mtm_exit", reason=reason.value, mtm=str(value), peak=str(peak),
                floor=as_text(locked_profit(peak, risk.lock_and_trail)), account_id=account,
            )  # fmt: skip
        self.book.mtm = marks

    def exit_scope(
        self, account_id: str | None, reason: ExitReason, positions: Sequence[PositionRecord]
    ) -> None:
        """Every guard of the scope exits; what the positions hold beyond them gets a guard."""
        covered: dict[tuple[str, str], int] = {}
        for doc in self.book.guards:
            guard = Guard(doc)
            if account_id not in (None, guard.account_id):
                continue
            if guard.state == ARMED:
                guard.state, doc["reason"] = EXITING, reason.value
                guard.set_price("trigger_price", self.ltp(guard))
            elif guard.state in (CLOSED, WAITING):
                guard.state = DONE
            if guard.state in (EXITING, REENTERING):
                sign = -1 if guard.side == "SELL" else 1
                held = reentry_symbol(guard) if guard.state == REENTERING else guard.symbol
                slot = (guard.account_id, held)
                covered[slot] = covered.get(slot, 0) + sign * self.remaining(guard)
        for position in positions:
            slot = (position.account_id, position.symbol)
            rest = int(position.net_quantity) - covered.get(slot, 0)
            if rest:
                doc = exit_only_guard(position, rest, reason.value, self.now)
                self.book.guards = [*self.book.guards, doc]
                self.event("exit_only_guard", Guard(doc), quantity=abs(rest), reason=reason.value)

    def remaining(self, guard: Guard) -> int:
        """Units the guard still holds: its quantity less what its stops and closes filled (a
        re-entry in flight counts what it filled)."""
        if guard.state == REENTERING:
            fills = entry_fills(self.orders(guard.ids("reentry_orders")))
            return fills.get((guard.account_id, guard.leg), (0, None, None))[0]
        orders = self.orders([*guard.ids("stop_orders"), *guard.ids("exit_orders")])
        return max(0, guard.quantity - sum(int(o.filled_quantity or 0) for o in orders))
