"""A guarded leg's stop: at the broker as SL-LIMIT orders, or watched in software.

An ARMED guard follows its entry's late fills, places its stop after a fill, moves it (trailing,
move-to-cost) by modifying the resting order, replaces it when the broker lost or cancelled it
(after ``MAX_STOP_LOSSES`` it is watched in software, with an alert) and begins the exit when a
target, a software stop or a stop run past its limit says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from chalicelib.domain.money import Rounding, snap_to_tick
from chalicelib.domain.records import OrderRecord
from chalicelib.domain.risk import (
    favourable,
    past_the_limit,
    stop_already_breached,
    stop_hit,
    target_hit,
    tighter,
    trailed_stop,
)
from chalicelib.domain.risk_book import never_sent
from chalicelib.domain.strategy import ExitReason, RiskUnit
from chalicelib.ports.broker import Modification, OrderType
from chalicelib.ports.broker_errors import BrokerError, InvalidOrder, Rejected
from chalicelib.services.guards import (
    ARMED,
    CLOSED,
    EXITING,
    STOP,
    Guard,
    entry_fills,
    grown_guard,
    stop_children,
)
from chalicelib.services.order_builder import ChildOrder
from chalicelib.services.order_sender import order_request
from chalicelib.services.risk_intents import in_flight
from chalicelib.services.risk_step_core import StepCore, as_text, average_fill
from chalicelib.services.settlement import FAILED, TERMINAL

MAX_STOP_LOSSES = 3  # broker-cancelled stop orders re-placed before falling back to software


class Stops(StepCore):
    """The ARMED state of a guard (mixed into ``risk_step.BookStep``)."""

    def follow_fills(self, guard: Guard) -> None:
        """Entry orders still resting (past settlement's deadline) or partly filled: every unit
        that fills joins the guard, and a resting stop is replaced by one for the new quantity
        (cancelled first, then placed anew: never two stops resting for one guard)."""
        entries = self.orders(guard.ids("entry_orders"))
        found = entry_fills(entries).get((guard.account_id, guard.leg))
        if found is None or found[0] <= int(guard.doc.get("entered", guard.quantity)):
            return
        before = guard.quantity
        grown_guard(guard.doc, self.leg_rules(guard), found[0], found[1])
        self.dirty = True
        self.event("fill_guarded", guard, quantity=guard.quantity, added=guard.quantity - before,
                   stop=guard.doc.get("stop"))  # fmt: skip
        live = [o for o in self.orders(guard.ids("stop_orders")) if o.status not in TERMINAL]
        if live and not any(in_flight(o) for o in live):
            self.replace_stops(guard, live)

    def armed(self, guard: Guard) -> None:
        if guard.leg >= 0:
            self.follow_fills(guard)
        if guard.quantity <= 0:
            return  # nothing filled yet: nothing to protect
        stops = self.orders(guard.ids("stop_orders"))
        if any(in_flight(o) for o in stops):
            return  # a stop not yet acknowledged: resolved by its tag first, never doubled
        if stops and all(o.status in TERMINAL for o in stops):
            if self.stops_settled(guard, stops):
                return
            stops = []
        ltp = self.ltp(guard)
        leg = self.leg_rules(guard)
        live_stops = [o for o in stops if o.status not in TERMINAL]
        limits = [Decimal(str(o.request["limit_price"])) for o in live_stops]
        if any(past_the_limit(guard.side, limit, ltp) for limit in limits):
            # triggered, and the market ran past its limit: it will not fill; chase instead
            self.begin_exit(guard, ExitReason.STOP_LOSS, ltp)
            return
        if ltp is not None:
            if target_hit(guard.side, guard.price("target"), ltp):
                self.begin_exit(guard, ExitReason.TARGET, ltp)
                return
            watched_in_software = guard.doc["software_stop"] or not live_stops
            if watched_in_software and stop_hit(guard.side, guard.price("stop"), ltp):
                self.begin_exit(guard, ExitReason.STOP_LOSS, ltp)
                return
            if favourable(guard.side, ltp, guard.price("best") or guard.entry):
                guard.set_price("best", ltp)
                self.dirty = True
                self.trail(guard, leg, ltp)
        stop = guard.price("stop")
        if stop is None or guard.doc["software_stop"]:
            return
        if not stops:
            if stop_already_breached(guard.side, stop, ltp):
                self.begin_exit(guard, ExitReason.STOP_LOSS, ltp)
            else:
                self.place_stops(guard)
        elif live_stops and guard.price("broker_stop") != stop:
            if stop_already_breached(guard.side, stop, ltp):
                self.begin_exit(guard, ExitReason.STOP_LOSS, ltp)  # moved past the market
            else:
                self.move_stops(guard, live_stops, stop)

    def stops_settled(self, guard: Guard, stops: Sequence[OrderRecord]) -> bool:
        """All stop orders ended: a stop hit (True: the guard is closed) or a lost stop order."""
        if all(never_sent(o) for o in stops):
            guard.doc["stop_orders"], guard.doc["broker_stop"] = [], None
            self.dirty = True
            return False  # nobody sent it: place it now (it was never at the broker)
        filled = sum(int(o.filled_quantity or 0) for o in stops)
        if filled >= guard.quantity:
            price = average_fill(stops)
            guard.state, guard.doc["reason"] = CLOSED, ExitReason.STOP_LOSS.value
            guard.set_price("exit_price", price)
            self.dirty = True
            self.event("stop_loss", guard, price=as_text(price), trigger=guard.doc.get("broker_stop"),
                       orders=[o.order_id for o in stops], at_broker=True)  # fmt: skip
            self.move_to_cost(guard)
            return True
        lost = [o for o in stops if o.status in FAILED]
        guard.doc["quantity"] = guard.quantity - filled
        guard.doc["stop_orders"], guard.doc["broker_stop"] = [], None
        self.dirty = True
        if guard.doc.pop("cancel_requested", False):
            return False  # our own cancel (the modification cap): place afresh, not a loss
        messages = [(o.history or [{}])[-1].get("message", "") for o in lost]
        if any(o.status == "REJECTED" for o in lost):
            # A rejection (price band, margin, a rule) would repeat: watch the stop in software.
            guard.doc["software_stop"] = True
            self.event("alert", guard, code="stop_order_refused", trigger=guard.doc["stop"],
                       messages=messages, message="the broker refused the stop order; the "
                       "price monitor watches the stop instead")  # fmt: skip
            return False
        guard.doc["replacements"] = int(guard.doc["replacements"]) + 1
        if guard.doc["replacements"] > MAX_STOP_LOSSES:
            guard.doc["software_stop"] = True
            self.event("alert", guard, code="stop_order_unplaceable", messages=messages,
                       message="stop orders keep failing at the broker; the stop is now "
                       "watched by the price monitor")  # fmt: skip
        else:
            self.event("stop_order_lost", guard, orders=[o.order_id for o in lost],
                       messages=messages, filled=filled)  # fmt: skip
        return False

    def trail(self, guard: Guard, leg: Any, ltp: Decimal) -> None:
        if leg.trailing is None or guard.price("initial_stop") is None:
            return
        new = trailed_stop(
            guard.side, guard.entry, guard.price("initial_stop") or guard.entry,
            guard.price("best") or ltp, leg.trailing, RiskUnit(guard.doc["stop_unit"]), guard.tick,
        )  # fmt: skip
        current = guard.price("stop")
        if tighter(guard.side, new, current):
            guard.set_price("stop", new)
            self.dirty = True
            self.event("trail", guard, price=str(ltp), stop_from=as_text(current), stop_to=str(new))

    def move_to_cost(self, stopped: Guard) -> None:
        if not self.strategy.risk.move_sl_to_cost:
            return
        for doc in self.book.guards:
            other = Guard(doc)
            if other.id == stopped.id or other.account_id != stopped.account_id:
                continue
            if other.state != ARMED or other.doc.get("cost_moved"):
                continue
            other.doc["cost_moved"] = True
            cost = other.entry
            if tighter(other.side, cost, other.price("stop")):
                before = other.price("stop")
                other.set_price("stop", _snap_cost(other))
                self.event("move_to_cost", other, price=as_text(self.ltp(other)), stop_from=as_text(before),
                           stop_to=other.doc["stop"], because=stopped.id)  # fmt: skip
            self.dirty = True

    def place_stops(self, guard: Guard) -> None:
        adapter = self.engine.adapter(self.book.uid, guard.account_id)
        if adapter is None:
            self.event("alert", guard, code="stop_not_placed", message="no broker session")
            return
        if not self.may_act(guard.account_id):
            return
        children = stop_children(guard, self.book.strategy_id, self.freeze_qty(guard),
                                 self.now.date(), self._seq(guard))  # fmt: skip
        guard.doc["broker_stop"] = guard.doc["stop"]
        guard.doc["modifications"] = 0
        items = self.send(guard, adapter, children, STOP, "stop_orders", replace=True)
        if items is None:
            return
        refused = [o for o in items if o.status in FAILED]
        if items and len(refused) == len(items):
            # Refused outright (e.g. a limit outside the exchange's price band): a retry would be
            # refused the same way, so the monitor watches the stop and says so.
            guard.doc["stop_orders"], guard.doc["broker_stop"] = [], None
            guard.doc["software_stop"] = True
            self.dirty = True
            self.event("alert", guard, code="stop_order_refused", trigger=guard.doc["stop"],
                       messages=[(o.error or {}).get("message") for o in refused],
                       message="the broker refused the stop order; the price monitor watches "
                       "the stop instead")  # fmt: skip
            self.claim()
            return
        self.event("stop_placed", guard, trigger=guard.doc["stop"],
                   limit=str(children[0].limit_price) if children else None,
                   orders=[o.order_id for o in items],
                   refused=[(o.error or {}).get("message") for o in refused])  # fmt: skip

    def move_stops(self, guard: Guard, live: Sequence[OrderRecord], stop: Decimal) -> None:
        """Modify the resting stop orders to ``stop`` (claimed first: one modifier at a time).
        Past the broker's modification cap, or when the broker refuses the modification, the
        stop is cancelled and placed anew at once (``cancel_requested``)."""
        broker = str(guard.doc["contract"].get("broker", ""))
        cap = self.engine.capabilities(broker).max_modifications
        adapter = self.engine.adapter(self.book.uid, guard.account_id)
        if adapter is None or not self.may_act(guard.account_id):
            return
        if int(guard.doc["modifications"]) >= cap:
            self.replace_stops(guard, live)
            return
        guard.doc["modifications"] = int(guard.doc["modifications"]) + 1
        guard.doc["moving_to"] = str(stop)
        self.dirty = True
        if not self.claim():
            return
        market = self.engine.settlement.closer.market
        children = stop_children(guard, self.book.strategy_id, self.freeze_qty(guard),
                                 self.now.date(), 0)  # fmt: skip
        limit = children[0].limit_price
        moved = 0
        for order in live:
            child = ChildOrder.from_dict(order.request)
            try:
                adapter.modify(
                    str(order.broker_order_id),
                    Modification(price=limit, trigger=stop, order_type=OrderType.SL_LIMIT),
                    request=order_request(child, market),
                )
            except (Rejected, InvalidOrder) as error:
                self.event("alert", guard, code="stop_modification_refused", message=str(error),
                           stop_to=str(stop), action="cancel and place anew")  # fmt: skip
                self.replace_stops(guard, live)
                return
            except BrokerError as error:  # unreachable: tried again next cycle, said once
                self.alert("stop_not_moved", guard, urgent=True, message=str(error),
                           stop_to=str(stop))  # fmt: skip
                continue
            self.engine.orders.reprice_order(order, str(stop), str(limit))
            moved += 1
        if moved == len(live):
            guard.doc["broker_stop"] = str(stop)
        self.dirty = True
        self.claim()

    def replace_stops(self, guard: Guard, live: Sequence[OrderRecord]) -> None:
        """Cancel the resting stops; once the cancel is confirmed the stop is placed anew (not
        counted as a loss)."""
        if not self.may_act(guard.account_id):
            return
        guard.doc["cancel_requested"] = True
        self.dirty = True
        if self.claim():
            self.engine.settlement.cancel_open(self.book.uid, live)

    def begin_exit(self, guard: Guard, reason: ExitReason, price: Decimal | None) -> None:
        guard.state, guard.doc["reason"] = EXITING, reason.value
        guard.doc["trigger_price"] = as_text(price)
        self.dirty = True
        if not self.claim():
            guard.state = ARMED
            return
        self.event(reason.value.lower(), guard, price=as_text(price), stop=guard.doc.get("stop"),
                   target=guard.doc.get("target"), at_broker=False)  # fmt: skip
        if reason is ExitReason.STOP_LOSS:
            self.move_to_cost(guard)


def _snap_cost(guard: Guard) -> Decimal:
    """The entry price on the tick, on the side that keeps the stop a real stop."""
    direction = Rounding.DOWN if guard.side == "SELL" else Rounding.UP
    return snap_to_tick(guard.entry, guard.tick, direction)
