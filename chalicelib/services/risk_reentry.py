"""Re-entries: a closed guard waits for its leg's re-entry rule, enters again (or runs the strike
rule again, RE_EXECUTE) through the write-before-send path, and the next cycle's guard is born
from what filled. Wait and trade enters its waiting legs the same way (``enter_leg``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

from chalicelib.domain.risk import re_entry_ready
from chalicelib.domain.risk_book import LIVE, never_sent
from chalicelib.domain.strategy import ExitReason, ReEntryMode
from chalicelib.ports.broker import Broker
from chalicelib.services.guards import (
    ARMED,
    DONE,
    EXITING,
    REENTERING,
    REENTRY,
    WAITING,
    Guard,
    entry_fills,
    new_guard,
    reentry_children,
)
from chalicelib.services.re_execute import re_executed, reentry_contract
from chalicelib.services.risk_intents import in_flight
from chalicelib.services.risk_step_core import StepCore
from chalicelib.services.settlement import TERMINAL
from chalicelib.services.wait_trade import PENDING, expire, waits

#: No re-entry starts this close to the exit time: the exit is planned from the positions
#: before T (20 s locally, up to a minute on AWS), and a position opened after the plan would
#: be left for the exit hook to find at T.
RE_ENTRY_BEFORE_EXIT = timedelta(seconds=90)


class ReEntries(StepCore):
    """The CLOSED, WAITING and REENTERING states of a guard (mixed into ``risk_step.BookStep``)."""

    def closed(self, guard: Guard) -> None:
        if guard.leg < 0 or self.scope_exited(guard.account_id) or self.after_exit_time():
            guard.state = DONE
            self.dirty = True
            return
        leg = self.leg_rules(guard)
        rule = leg.re_entry
        cutoff = self.strategy.risk.no_re_entry_after
        reason = guard.doc.get("reason")
        allowed = (
            rule is not None
            and reason in {r.value for r in rule.on}
            and int(guard.doc["re_entries"]) < rule.max_count
            and (cutoff is None or self.now.time() < cutoff)
            and self.book.status == LIVE
        )
        guard.state = WAITING if allowed else DONE
        self.dirty = True
        if allowed:
            self.event("re_entry_waiting", guard, mode=rule.mode.value,
                       count=int(guard.doc["re_entries"]) + 1, of=rule.max_count)  # fmt: skip

    def waiting(self, guard: Guard) -> None:
        rule = self.leg_rules(guard).re_entry
        cutoff = self.strategy.risk.no_re_entry_after
        if rule is None or (cutoff is not None and self.now.time() >= cutoff):
            guard.state = DONE
            self.dirty = True
            self.event("re_entry_expired", guard)
            return
        if self.now >= self.exit_at() - RE_ENTRY_BEFORE_EXIT:
            guard.state = DONE  # the exit is planned (or about to be) from what is held now
            self.dirty = True
            self.event("re_entry_expired", guard, why="the strategy's exit is planned")
            return
        ltp = self.ltp(guard)
        exit_price = guard.price("exit_price") or guard.entry
        if rule.mode is not ReEntryMode.RE_EXECUTE and (
            ltp is None or not re_entry_ready(rule.mode, guard.entry, exit_price, ltp)
        ):
            return
        adapter = self.engine.adapter(self.book.uid, guard.account_id)
        if adapter is None:
            self.event("alert", guard, code="re_entry_failed", message="no broker session")
            return
        if self.refused_by_kill_switch(guard) or not self.may_act(guard.account_id):
            return
        target = guard
        if rule.mode is ReEntryMode.RE_EXECUTE:  # the strike rule runs again, now
            found = re_executed(self, guard)
            if found is None:
                return
            target, ltp = found
            guard.doc["reentry_contract"] = target.doc["contract"]
            guard.doc["reentry_symbol"] = target.symbol
        assert ltp is not None
        self.enter_leg(guard, target, adapter, ltp, back_to=WAITING)

    def enter_leg(
        self,
        guard: Guard,
        target: Guard,
        adapter: Broker,
        ltp: Decimal,
        *,
        back_to: str,
        announce: Callable[[list[str]], None] | None = None,
    ) -> None:
        """Send ``target``'s entry orders at ``ltp`` as ``guard``'s re-entry orders (a re-entry,
        or a waiting leg's entry): the guard is REENTERING in the claim that names them, back to
        ``back_to`` when the claim is lost (nothing was sent). ``announce`` gets the orders' ids
        once they are sent; what fills becomes the next cycle's guard (``reentering``)."""
        children = reentry_children(target, self.book.strategy_id, ltp, self.freeze_qty(target),
                                    self.now.date(), self._seq(guard))  # fmt: skip
        guard.state = REENTERING
        guard.set_price("reentry_price", ltp)
        items = self.send(guard, adapter, children, REENTRY, "reentry_orders")
        if items is None:
            guard.state = back_to
            return
        if announce is not None:
            announce([o.order_id for o in items])
        self.engine._reconcile(self.book.uid, items)
        self.reentering(guard)

    def refused_by_kill_switch(self, guard: Guard) -> bool:
        """A kill switch engaging on the strategy or account: no re-entry starts (the guard is
        done; the switch's freeze would stop it anyway, this closes the gap before it lands)."""
        block = self.engine.entry_block
        reason = block(self.book.uid, self.book.strategy_id, guard.account_id) if block else None
        if reason is None:
            return False
        guard.state = DONE
        self.dirty = True
        self.event("re_entry_refused", guard, why=reason)
        return True

    def reentering(self, guard: Guard) -> None:
        """The re-entry orders ended: the next cycle's guard is born from what filled (an
        unfilled remainder is cancelled first, so nothing fills later unguarded)."""
        engine = self.engine
        items = self.orders(guard.ids("reentry_orders"))
        if any(in_flight(o) for o in items):
            return
        open_ = [o for o in items if o.status not in TERMINAL]
        if open_:
            if not self.may_act(guard.account_id):
                return
            engine.settlement.cancel_open(self.book.uid, open_)
            engine._reconcile(self.book.uid, open_)
            if any(o.status not in TERMINAL for o in open_):
                return
        waited = waits(guard.doc)  # a waiting leg's entry (wait and trade), not a re-entry
        if items and all(never_sent(o) for o in items):
            # Its sender died before sending (or the broker never got it): nothing is held, so
            # the re-entry is decided afresh (a new tag), under the same cut-offs as before.
            guard.state, guard.doc["reentry_orders"] = PENDING if waited else WAITING, []
            self.dirty = True
            self.event("re_entry_not_sent", guard, orders=[o.order_id for o in items])
            return
        rule = self.leg_rules(guard).re_entry
        guard.state = DONE
        self.dirty = True
        filled = entry_fills(items).get((guard.account_id, guard.leg))
        if filled is None and waited:
            expire(self, guard, "its entry orders did not fill")
            return
        if filled is None or (rule is None and not waited):
            self.event("alert", guard, code="re_entry_failed", price=guard.doc.get("reentry_price"),
                       orders=[o.order_id for o in items])  # fmt: skip
            self.claim()
            return
        units, price, _request = filled
        doc = new_guard(
            account_id=guard.account_id, leg_index=guard.leg, leg=self.leg_rules(guard),
            cycle=int(guard.doc["cycle"]) + 1, contract=reentry_contract(guard), quantity=units,
            entry_price=price, re_entries=int(guard.doc["re_entries"]) + (0 if waited else 1),
        )  # fmt: skip
        doc["entry_orders"] = [o.order_id for o in items]
        exited = self.scope_exited(guard.account_id)
        if exited or self.after_exit_time():
            doc["state"], doc["reason"] = EXITING, exited or ExitReason.EXIT_TIME.value
        elif waited and not self.leg_rules(guard).guarded:
            doc["state"] = DONE  # no rule to watch: strategy exits close it from the positions
        self.book.guards = [*self.book.guards, doc]
        if waited:
            self.event("wait_and_trade_entered", guard, price=guard.doc.get("reentry_price"),
                       entry_price=str(price), quantity=units, reference=guard.doc["reference"],
                       new_guard=doc["id"])  # fmt: skip
        else:
            assert rule is not None
            self.event("re_entered", guard, price=guard.doc.get("reentry_price"),
                       entry_price=str(price), quantity=units, mode=rule.mode.value,
                       count=doc["re_entries"], new_guard=doc["id"])  # fmt: skip
        if not self.claim():
            return
        fresh = Guard(doc)
        if fresh.state == ARMED and fresh.price("stop") is not None:
            self.place_stops(fresh)
