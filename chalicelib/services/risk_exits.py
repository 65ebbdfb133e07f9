"""A guard's exit: cancel its stop orders, wait until the broker confirms them ended, then close
what they did not fill, re-priced every ``CHASE_EVERY`` until flat; and the exit-time takeover
of guards the exit at T left.
"""

from __future__ import annotations

from datetime import timedelta

from chalicelib.domain.strategy import ExitReason
from chalicelib.services.guards import (
    CLOSED,
    DONE,
    EXITING,
    RISK_EXIT,
    WAITING,
    Guard,
    closing_children,
)
from chalicelib.services.risk_intents import in_flight
from chalicelib.services.risk_step_core import StepCore, average_fill
from chalicelib.services.settlement import TERMINAL

MAX_EXIT_ATTEMPTS = 5  # re-priced closes before the urgent alert (the chase goes on)
#: A resting close is re-priced (cancelled, sent again further into the book) this often.
CHASE_EVERY = timedelta(seconds=3)


class Exits(StepCore):
    """The EXITING state of a guard (mixed into ``risk_step.BookStep``)."""

    def exiting(self, guard: Guard) -> None:
        """Cancel the stop orders, wait until the broker confirms them ended, then close what
        they did not fill."""
        engine = self.engine
        if guard.leg >= 0:
            self.follow_fills(guard)
            resting = [
                o for o in self.orders(guard.ids("entry_orders")) if o.status not in TERMINAL
            ]
            if resting:  # an exit stops the entry: its unfilled remainder is cancelled first
                if not self.may_act(guard.account_id):
                    return
                asked = engine.settlement.cancel_open(self.book.uid, resting)
                if asked:
                    engine._reconcile(self.book.uid, asked)
                if any(o.status not in TERMINAL for o in resting):
                    return  # its fills reach the position when it ends; then close what is held
                self.follow_fills(guard)
        stops = self.orders(guard.ids("stop_orders"))
        exits = self.orders(guard.ids("exit_orders"))
        if any(in_flight(o) for o in [*stops, *exits]):
            return  # an order not yet acknowledged: resolved by its tag first, never doubled
        open_stops = [o for o in stops if o.status not in TERMINAL]
        if open_stops:
            if not self.may_act(guard.account_id):
                return  # a kill switch or the exit is closing this pair now
            asked = engine.settlement.cancel_open(self.book.uid, open_stops)
            if asked:  # a failed cancel is asked again next cycle; nothing waits on it now
                engine._reconcile(self.book.uid, asked)
            if any(o.status not in TERMINAL for o in open_stops):
                return  # the cancel is not confirmed: never close under a live stop
        open_exits = [o for o in exits if o.status not in TERMINAL]
        if open_exits:
            if self.now - self.last_sent(open_exits) < CHASE_EVERY:
                return  # resting: its fill shows in the order book next cycle
            if not self.may_act(guard.account_id):
                return
            asked = engine.settlement.cancel_open(self.book.uid, open_exits)  # to re-price it
            if asked:
                engine._reconcile(self.book.uid, asked)
            if any(o.status not in TERMINAL for o in open_exits):
                return  # never a second close beside a live one
        done = sum(int(o.filled_quantity or 0) for o in [*stops, *exits])
        left = guard.quantity - done
        if left <= 0:
            guard.state = CLOSED
            guard.set_price("exit_price", average_fill([*stops, *exits]))
            self.dirty = True
            self.event("closed", guard, reason=guard.doc["reason"], price=guard.doc["exit_price"])
            return
        attempt = int(guard.doc["exit_attempts"])
        if exits and self.now - self.last_sent(exits) < CHASE_EVERY:
            return  # a refused close is re-priced every few seconds, not every cycle
        if attempt >= MAX_EXIT_ATTEMPTS:
            self.alert("exit_not_flat", guard, urgent=True, left=left, attempts=attempt,
                       message="closing orders keep failing or not filling; the position is "
                       "still open and the monitor keeps trying at the band's edge")  # fmt: skip
        ltp = self.ltp(guard) or guard.price("trigger_price")
        adapter = engine.adapter(self.book.uid, guard.account_id)
        if ltp is None or adapter is None:
            self.alert("exit_blind", guard, urgent=True, left=left,
                       message="cannot price or reach the broker to close an open position")  # fmt: skip
            return
        if not self.may_act(guard.account_id):
            return  # another closer holds the pair: it reads what is held when it acts
        guard.doc["exit_attempts"] = attempt + 1
        children = closing_children(guard, self.book.strategy_id, left, ltp,
                                    self.freeze_qty(guard), self.now.date(), self._seq(guard),
                                    attempt)  # fmt: skip
        if attempt:
            self.event("exit_repriced", guard, attempt=attempt + 1, price=str(ltp),
                       limit=str(children[0].limit_price) if children else None, left=left)  # fmt: skip
        items = self.send(guard, adapter, children, RISK_EXIT, "exit_orders")
        if items is None:
            return
        engine._reconcile(self.book.uid, items)
        if any(int(o.filled_quantity or 0) for o in items) and all(
            o.status in TERMINAL for o in items
        ):
            self.exiting(guard)

    def take_over(self, guard: Guard) -> None:
        """Past T + ``EXIT_TAKEOVER``: no exit at T took this guard, so it exits now (its stop
        cancelled first, then what is left closed and chased until flat); a guard waiting for
        a re-entry holds nothing and is done."""
        if guard.state == WAITING:
            guard.state = DONE
            self.dirty = True
            self.event("re_entry_expired", guard, why="past the strategy's exit time")
            return
        self.begin_exit(guard, ExitReason.EXIT_TIME, self.ltp(guard))
        if guard.state == EXITING:
            self.event("exit_time_takeover", guard, quantity=guard.quantity,
                       why="no exit order at T covered this position")  # fmt: skip
