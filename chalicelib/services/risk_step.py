"""One pass of the monitor over one risk book: decide from what was read, claim, then act.

``BookStep`` holds what the engine read for a book this cycle (prices, its risk orders) and
walks each guard through its states. Every transition that leads to a broker call is claimed
first with the book's conditional write, and every order is an intent in that write before it
is sent (``risk_intents``), so a second monitor or a restarted one resolves it by tag instead
of sending another.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.dynamo.models import OrderItem, PositionItem
from chalicelib.adapters.dynamo.risk_items import DONE as BOOK_DONE
from chalicelib.adapters.dynamo.risk_items import LIVE, RiskBookItem, never_sent
from chalicelib.domain.calendar import IST
from chalicelib.domain.instrument import ContractKey
from chalicelib.domain.market_errors import MarketRuleError
from chalicelib.domain.money import Rounding, snap_to_tick
from chalicelib.domain.risk import (
    Book,
    favourable,
    locked_profit,
    mtm,
    mtm_exit,
    past_the_limit,
    re_entry_ready,
    stop_already_breached,
    stop_hit,
    target_hit,
    tighter,
    trailed_stop,
)
from chalicelib.domain.strategy import ExitReason, MtmScope, ReEntryMode, RiskUnit, Strategy
from chalicelib.errors import DependencyUnavailable
from chalicelib.ports.broker import Broker, Modification, OrderType
from chalicelib.ports.broker_errors import BrokerError, InvalidOrder, Rejected
from chalicelib.services.closing import holding_of_position
from chalicelib.services.guards import (
    ARMED,
    CLOSED,
    DONE,
    EXITING,
    REENTERING,
    REENTRY,
    RISK_EXIT,
    STOP,
    WAITING,
    Guard,
    closing_children,
    entry_fills,
    exit_only_guard,
    grown_guard,
    new_guard,
    reentry_children,
    stop_children,
)
from chalicelib.services.order_builder import ChildOrder
from chalicelib.services.order_sender import order_request, stamp
from chalicelib.services.re_execute import re_executed, reentry_contract, reentry_symbol
from chalicelib.services.risk_intents import in_flight
from chalicelib.services.settlement import FAILED, TERMINAL
from chalicelib.services.wait_trade import PENDING, expire, waits

if TYPE_CHECKING:
    from chalicelib.services.risk_engine import RiskEngine

MAX_STOP_LOSSES = 3  # broker-cancelled stop orders re-placed before falling back to software
MAX_EXIT_ATTEMPTS = 5  # re-priced closes before the urgent alert (the chase goes on)
#: A resting close is re-priced (cancelled, sent again further into the book) this often.
CHASE_EVERY = timedelta(seconds=3)
#: An alert's condition still holding is said again after this long (never more often).
ALERT_EVERY = timedelta(seconds=30)
#: The monitor's close lease: longer than one pass's acts on a pair (sends and settles, about
#: 10 s on a slow broker, renewed before each act), shorter than the exit's 20 s patience, so a
#: monitor that died holding it never keeps the exit at T back.
LEASE_TTL = 15.0
#: Renew a lease held this long (seconds) before the next act of the same pass.
LEASE_RENEW = 5.0
#: No re-entry starts this close to the exit time: the exit is planned from the positions
#: before T (20 s locally, up to a minute on AWS), and a position opened after the plan would
#: be left for the exit hook to find at T.
RE_ENTRY_BEFORE_EXIT = timedelta(seconds=90)
#: The exit at T freezes the guards of every account it has a planned order for (the firer's
#: hook) and closes what they hold. A guard still ARMED this long after T belongs to an account
#: the exit had no order for (nothing was held when it was planned; a re-entry or a late entry
#: fill came after): the monitor closes it itself, as an EXIT_TIME exit. A late hook is safe
#: beside it: both take the close lease and the hook trims its orders to what is then held.
EXIT_TAKEOVER = timedelta(seconds=15)
log = logging.getLogger(__name__)


class BookStep:
    """One book's pass: decisions on its guards, claimed in one write, then the broker calls."""

    def __init__(
        self,
        engine: RiskEngine,
        book: RiskBookItem,
        strategy: Strategy,
        now: datetime,
        prices: dict[tuple[str, ContractKey], Decimal],
        known: dict[str, OrderItem],
    ) -> None:
        self.engine = engine
        self.known = known
        self.book = book
        self.strategy = strategy
        self.now = now
        self.prices = prices
        self.dirty = False
        self.lost = False
        self.events: list[dict[str, Any]] = []
        self.seq = 0
        self.leases: dict[str, float] = {}  # account -> when this pass took (or renewed) it

    # -- the close lease ------------------------------------------------------------------------
    @property
    def lease_owner(self) -> str:
        """Every monitor shares the owner: monitors are serialised by the book's version and
        their intents, and a restarted monitor must not wait for its dead predecessor's lease."""
        return f"risk:{self.book.trade_date}:{self.book.strategy_id}"

    def may_act(self, account_id: str) -> bool:
        """Take (or renew) the close lease of (user, strategy, account) before a broker call that
        closes or may close (a close, a stop placed, moved or cancelled, a re-entry). False: a
        kill switch or the exit is closing these positions: do nothing now, decide next cycle."""
        leases = self.engine.leases
        if leases is None:
            return True
        taken_at = self.leases.get(account_id)
        clock = self.engine.monotonic
        if taken_at is not None and clock() - taken_at < LEASE_RENEW:
            return True
        uid, strategy_id = self.book.uid, self.book.strategy_id
        try:
            taken = leases.acquire(uid, strategy_id, account_id, self.lease_owner, LEASE_TTL)
        except DependencyUnavailable:
            log.warning("close lease unreadable", extra={"user": uid, "book": self.book.sk})
            taken = False
        if taken:
            self.leases[account_id] = clock()
        else:
            self.leases.pop(account_id, None)
        return taken

    def release_leases(self) -> None:
        """Give back the leases this pass took (its acts are settled or left as intents)."""
        leases = self.engine.leases
        if leases is None:
            return
        for account_id in list(self.leases):
            try:
                leases.release(self.book.uid, self.book.strategy_id, account_id,
                               self.lease_owner)  # fmt: skip
            except DependencyUnavailable:  # it expires by itself
                log.warning("close lease not released", extra={"book": self.book.sk})
            del self.leases[account_id]

    # -- orders and prices --------------------------------------------------------------------
    def ltp(self, guard: Guard) -> Decimal | None:
        return self.prices.get((guard.account_id, guard.key))

    def orders(self, ids: Iterable[str]) -> list[OrderItem]:
        return [self.known[i] for i in ids if i in self.known]

    def freeze_qty(self, guard: Guard) -> int:
        try:
            spec = self.engine.settlement.closer.market.contract_spec(
                guard.key.underlying, guard.key.expiry, self.now.date()
            )
        except MarketRuleError:
            return guard.quantity
        return spec.freeze_qty

    def claim(self) -> bool:
        """Write the book's new state; False when another monitor or a freeze got there first
        (and from then on: this pass lost the book and must not act on it any more)."""
        if self.lost:
            return False
        if not self.dirty:
            return True
        won = self.engine.books.save(self.book)
        self.dirty = not won
        self.lost = not won
        return won

    def event(self, kind: str, guard: Guard | None = None, **fields: Any) -> None:
        where = {} if guard is None else {
            "guard": guard.id, "account_id": guard.account_id, "leg": guard.leg,
            "symbol": guard.symbol,
        }  # fmt: skip
        self.events.append({"kind": kind, **where, **fields})

    def finish(self) -> None:
        """Write what is left to write and record the pass's events. The book is done only when
        every guard is: after an MTM exit of the whole strategy, or after the exit time."""
        guards = [Guard(doc) for doc in self.book.guards]
        ended = self.scope_exited("") or self.after_exit_time()
        if self.book.status == LIVE and ended and all(g.state == DONE for g in guards):
            self.book.status = BOOK_DONE
            self.dirty = True
        if self.dirty:
            self.claim()
        self.engine.record_events(self.book.uid, self.book.execution, self.events)
        self.events = []

    def alert(self, code: str, guard: Guard | None = None, *, urgent: bool = False,
              **fields: Any) -> None:  # fmt: skip
        """An alert event, repeated every ``ALERT_EVERY`` while its condition lasts and never
        more often (deduplicated by code and guard / scope): a blind or stuck book is loud,
        not noisy."""
        key = f"{code}:{guard.id if guard else fields.get('scope', '')}"
        marks = self.book.mtm or {"peak": {}, "exited": {}}
        alerts = marks.setdefault("alerts", {})
        last = alerts.get(key)
        if last and self.now - datetime.fromisoformat(last) < ALERT_EVERY:
            return
        alerts[key] = stamp(self.now)
        self.book.mtm = marks
        self.dirty = True
        if urgent:
            log.error("risk alert", extra={"user": self.book.uid, "book": self.book.sk,
                                           "code": code, "guard": guard.id if guard else None})  # fmt: skip
        self.event("alert", guard, code=code, urgent=urgent, **fields)

    def blind(self, scope: str, message: str) -> None:
        self.alert("blind", scope=scope, urgent=True, message=message)

    # -- MTM ----------------------------------------------------------------------------------
    def mtm_exit(self, positions: Sequence[PositionItem]) -> None:
        """Check the strategy's (or each account's) P&L; when a rule says so, every guard of the
        scope starts exiting (its stop cancelled first, then only what it did not fill closed,
        chased until flat) and positions no guard covers get an exit-only guard. The exit lives
        in the guards, so a crash or a second monitor resumes it instead of redoing it."""
        risk = self.strategy.risk
        scopes: dict[str, list[PositionItem]] = {"ALL": list(positions)}
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
                floor=_s(locked_profit(peak, risk.lock_and_trail)), account_id=account,
            )  # fmt: skip
        self.book.mtm = marks

    def exit_scope(
        self, account_id: str | None, reason: ExitReason, positions: Sequence[PositionItem]
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

    # -- one guard ----------------------------------------------------------------------------
    def advance(self, guard: Guard) -> None:
        if guard.state in (ARMED, WAITING) and past_takeover(self.book, self.now):
            self.take_over(guard)
            if guard.state != EXITING:
                return  # done, or the claim was lost: decided again next cycle
        if guard.state == ARMED:
            self.armed(guard)
        if guard.state == EXITING:
            self.exiting(guard)
        if guard.state == CLOSED:
            self.closed(guard)
        if guard.state == WAITING:
            self.waiting(guard)
        if guard.state == REENTERING:
            self.reentering(guard)

    def leg_rules(self, guard: Guard) -> Any:
        return self.strategy.legs[guard.leg]

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

    def stops_settled(self, guard: Guard, stops: Sequence[OrderItem]) -> bool:
        """All stop orders ended: a stop hit (True: the guard is closed) or a lost stop order."""
        if all(never_sent(o) for o in stops):
            guard.doc["stop_orders"], guard.doc["broker_stop"] = [], None
            self.dirty = True
            return False  # nobody sent it: place it now (it was never at the broker)
        filled = sum(int(o.filled_quantity or 0) for o in stops)
        if filled >= guard.quantity:
            price = _average(stops)
            guard.state, guard.doc["reason"] = CLOSED, ExitReason.STOP_LOSS.value
            guard.set_price("exit_price", price)
            self.dirty = True
            self.event("stop_loss", guard, price=_s(price), trigger=guard.doc.get("broker_stop"),
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
            self.event("trail", guard, price=str(ltp), stop_from=_s(current), stop_to=str(new))

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
                self.event("move_to_cost", other, price=_s(self.ltp(other)), stop_from=_s(before),
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

    def move_stops(self, guard: Guard, live: Sequence[OrderItem], stop: Decimal) -> None:
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
            order.request = {**order.request, "trigger": str(stop), "limit_price": str(limit)}
            self.engine.settlement.executions.save_order(order)
            moved += 1
        if moved == len(live):
            guard.doc["broker_stop"] = str(stop)
        self.dirty = True
        self.claim()

    def replace_stops(self, guard: Guard, live: Sequence[OrderItem]) -> None:
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
        guard.doc["trigger_price"] = _s(price)
        self.dirty = True
        if not self.claim():
            guard.state = ARMED
            return
        self.event(reason.value.lower(), guard, price=_s(price), stop=guard.doc.get("stop"),
                   target=guard.doc.get("target"), at_broker=False)  # fmt: skip
        if reason is ExitReason.STOP_LOSS:
            self.move_to_cost(guard)

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
            guard.set_price("exit_price", _average([*stops, *exits]))
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

    def last_sent(self, orders: Sequence[OrderItem]) -> datetime:
        return max(datetime.fromisoformat(o.sent_at or o.scheduled_at) for o in orders)

    def scope_exited(self, account_id: str) -> str | None:
        """The MTM exit reason covering ``account_id``, if its scope was exited."""
        exited = (self.book.mtm or {}).get("exited") or {}
        found = exited.get("ALL") or exited.get(account_id)
        return None if found is None else str(found["reason"])

    def after_exit_time(self) -> bool:
        return self.now.time() >= time.fromisoformat(self.book.exit_time)

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
        children = reentry_children(target, self.book.strategy_id, ltp, self.freeze_qty(target),
                                    self.now.date(), self._seq(guard))  # fmt: skip
        guard.state = REENTERING
        guard.set_price("reentry_price", ltp)
        items = self.send(guard, adapter, children, REENTRY, "reentry_orders")
        if items is None:
            guard.state = WAITING
            return
        self.engine._reconcile(self.book.uid, items)
        self.reentering(guard)

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

    def exit_at(self) -> datetime:
        """Today's exit time of the strategy, as an instant in the monitor's zone."""
        return datetime.combine(
            self.now.date(), time.fromisoformat(self.book.exit_time), tzinfo=self.now.tzinfo
        )

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

    # -- sending ------------------------------------------------------------------------------
    def send(
        self,
        guard: Guard,
        adapter: Broker,
        children: Sequence[ChildOrder],
        phase: str,
        field: str,
        *,
        replace: bool = False,
    ) -> list[OrderItem] | None:
        """Write before you send: the orders are stored, their ids written into the guard in the
        book's claim, and only then sent (each by exactly one actor). None: the claim was lost
        and nothing was sent."""
        engine = self.engine
        items = engine.intents.build(self.book.uid, self.book.execution, self.book.strategy_id,
                                     phase, children, self.now)  # fmt: skip
        ids = [o.order_id for o in items]
        guard.doc[field] = ids if replace else guard.ids(field) + ids
        self.known.update({o.order_id: o for o in items})
        engine._order_cache.update({o.order_id: o for o in items})
        self.dirty = True
        for item in items:
            engine.at("before_claim", item)
        if not self.claim():
            engine.intents.drop(items, "not sent: another actor changed the risk book first")
            return None
        for item in items:
            engine.at("after_claim", item)
        engine.intents.dispatch(adapter, items)
        for item in items:
            engine.at("after_ack", item)
        return items

    def _seq(self, guard: Guard) -> int:
        self.seq += 16
        return int(guard.leg) * 16 + self.seq % 256


def _average(orders: Iterable[OrderItem]) -> Decimal | None:
    units, value = 0, Decimal(0)
    for order in orders:
        filled = int(order.filled_quantity or 0)
        if filled and order.average_price is not None:
            units += filled
            value += Decimal(order.average_price) * filled
    return None if not units else (value / units).quantize(Decimal("0.01"))


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _snap_cost(guard: Guard) -> Decimal:
    """The entry price on the tick, on the side that keeps the stop a real stop."""
    direction = Rounding.DOWN if guard.side == "SELL" else Rounding.UP
    return snap_to_tick(guard.entry, guard.tick, direction)


def past_takeover(book: RiskBookItem, now: datetime) -> bool:
    """The monitor closes what the exit at T left (``EXIT_TAKEOVER``)."""
    local = now.astimezone(IST)
    exit_at = datetime.combine(local.date(), time.fromisoformat(book.exit_time), tzinfo=IST)
    return local >= exit_at + EXIT_TAKEOVER
