"""The risk engine: arms stop-losses at the broker after entry fills and runs the price monitor.

Arming. When an entry settles, ``arm`` stores the day's risk book (one guard per filled account
and leg) and the first ``step`` places each stop as an SL-LIMIT order at the broker, so the
exchange protects the position even if every process of ours dies.

Monitoring. ``cycle`` runs every second (the local clock's thread; on AWS a Lambda loop): it
reads the live books (one Query per shard), the accounts' order books and last prices, and for
each book decides what changes: a stop filled at the broker (STOP_LOSS), a stop order the broker
cancelled (re-placed; after three losses the stop is watched in software and an alert recorded),
a target reached, a trailing step, move-to-cost, an MTM exit, a re-entry. Every transition is
claimed first with a conditional write on the book's version, so two monitors never both act,
and only then sent to the broker. Exits always cancel the leg's stop orders first and close only
what the stop did not: a position is never closed twice.

Freezing. At the exit time (the firer's hook) and on a kill switch, the book is frozen before
anything else: the monitor stops acting, the risk orders still open are cancelled and settled, and
the caller closes what the positions then say is held.

Every decision is an event on the entry execution, with the price that triggered it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from chalicelib.adapters.brokers.errors import BrokerError
from chalicelib.adapters.brokers.port import Broker, Modification, OrderType
from chalicelib.adapters.dynamo.models import ExecutionItem, OrderItem, PositionItem
from chalicelib.adapters.dynamo.repository import Repository
from chalicelib.adapters.dynamo.risk_items import DONE as BOOK_DONE
from chalicelib.adapters.dynamo.risk_items import LIVE, RiskBookItem, RiskRepository
from chalicelib.domain.broker_support import broker_capabilities
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
    re_entry_ready,
    stop_already_breached,
    stop_hit,
    target_hit,
    tighter,
    trailed_stop,
)
from chalicelib.domain.strategy import (
    ExitReason,
    MtmScope,
    RiskUnit,
    Strategy,
    from_document,
    to_document,
)
from chalicelib.errors import DomainError, NotFound
from chalicelib.services.closing import Holding, holding_of_position
from chalicelib.services.guards import (
    ARMED,
    CLOSED,
    DONE,
    EXITING,
    LIVE_STATES,
    RISK_PHASES,
    WAITING,
    Guard,
    closing_children,
    entry_fills,
    new_guard,
    reentry_children,
    stop_children,
)
from chalicelib.services.order_builder import ChildOrder
from chalicelib.services.order_sender import order_item, order_request, send, stamp
from chalicelib.services.settlement import FAILED, TERMINAL, Backoff, Settlement

log = logging.getLogger(__name__)
MAX_STOP_LOSSES = 3  # broker-cancelled stop orders re-placed before falling back to software
MAX_EXIT_ATTEMPTS = 3
QUICK = Backoff(first=0.05, factor=2.0, cap=0.5, deadline=5.0)


@dataclass
class RiskEngine:
    books: RiskRepository
    repo: Repository
    settlement: Settlement
    clock: Callable[[], datetime]
    #: Risk orders by id, kept across cycles: the broker's order book refreshes the open ones,
    #: so the table is read for an order once, not every second.
    _order_cache: dict[str, OrderItem] = field(default_factory=dict)

    # -- arming ---------------------------------------------------------------------------------
    def arm(self, uid: str, execution_sk: str) -> RiskBookItem | None:
        """Create the day's risk book from a settled entry and place its stops (idempotent)."""
        executions = self.settlement.executions
        execution = executions.get_execution(uid, execution_sk)
        if execution.phase != "ENTRY" or execution.status in ("UNWOUND", "FAILED", "SKIPPED"):
            return None
        try:
            strategy = from_document(self.repo.get_strategy(uid, execution.strategy_id).spec)
        except NotFound:
            return None
        if not strategy.has_risk_rules:
            return None
        orders = [
            o
            for o in executions.orders_of_execution(uid, execution_sk)
            if o.phase == "ENTRY" and o.status in TERMINAL
        ]
        guards = []
        for (account_id, index), (units, price, request) in entry_fills(orders).items():
            leg = strategy.legs[index]
            if leg.guarded:
                contract = {**request, "broker_symbol": request.get("broker_symbol", "")}
                guards.append(
                    new_guard(
                        account_id=account_id, leg_index=index, leg=leg, cycle=0,
                        contract=contract, quantity=units, entry_price=price,
                    )
                )  # fmt: skip
        book = RiskBookItem(
            *RiskBookItem.key(uid, execution.trade_date, execution.strategy_id),
            uid=uid,
            strategy_id=execution.strategy_id,
            trade_date=execution.trade_date,
            execution=execution_sk,
            status=LIVE,
            exit_time=strategy.exit_time.isoformat(),
            rules=to_document(strategy),
            guards=guards,
            mtm={"peak": {}, "exited": {}},
        )
        if not self.books.create(book):
            return self.books.get(uid, execution.trade_date, execution.strategy_id)
        self._event(execution, {"kind": "risk_armed", "guards": [g["id"] for g in guards]})
        self.step(book, self.clock().astimezone(IST))
        return book

    # -- the monitor ------------------------------------------------------------------------------
    def cycle(self, now: datetime | None = None) -> dict[str, int]:
        """One pass over every live book of the day; never raises for one book's failure.
        (The loop in ``jobs.risk`` runs it only in the session of a trading day.)"""
        moment = (now or self.clock()).astimezone(IST)
        figures = {"books": 0, "failed": 0}
        for book in self.books.live(moment.date().isoformat()):
            figures["books"] += 1
            try:
                self.step(book, moment)
            except Exception:
                figures["failed"] += 1
                log.exception("risk step failed", extra={"user": book.uid, "book": book.sk})
        return figures

    def step(self, book: RiskBookItem, now: datetime) -> None:
        """Decide and act on one book, claiming each transition before any broker call."""
        if book.status != LIVE or now.time() >= time.fromisoformat(book.exit_time):
            return
        strategy = from_document(book.rules)
        guards = [Guard(doc) for doc in book.guards]
        live = [g for g in guards if g.state in LIVE_STATES]
        # Positions matter only to MTM rules: a book without them reads none each second.
        positions = (
            self.settlement.executions.positions(book.uid, book.strategy_id)
            if strategy.risk.watches_mtm
            else []
        )
        prices = self._prices(book.uid, live, positions)
        known = self._refresh_orders(book, live)
        context = _Context(self, book, strategy, now, prices, known)
        if strategy.risk.watches_mtm and context.mtm_exit(positions):
            return
        for guard in live:
            context.advance(guard)
        context.finish()

    # -- freezing (exit time, kill switch) --------------------------------------------------------
    def freeze(
        self,
        uid: str,
        trade_date: str,
        strategy_id: str,
        reason: ExitReason,
        account_id: str | None,
    ) -> RiskBookItem | None:
        """Stop the monitor acting on a book (or one account's guards) and cancel its risk
        orders; returns the book (None when the strategy has none today)."""
        for _attempt in range(5):
            book = self.books.get(uid, trade_date, strategy_id)
            if book is None:
                return None
            changed = False
            for doc in book.guards:
                if doc["state"] != DONE and account_id in (None, doc["account_id"]):
                    doc["state"], doc["reason"] = DONE, doc.get("reason") or reason.value
                    changed = True
            if account_id is None and book.status != BOOK_DONE:
                book.status, changed = BOOK_DONE, True
            if not changed or self.books.save(book):
                break
        else:
            log.warning("could not freeze a risk book", extra={"user": uid, "book": strategy_id})
            return None
        self.cancel_risk_orders(uid, book.execution, account_id)
        return book

    def cancel_risk_orders(self, uid: str, execution_sk: str, account_id: str | None) -> None:
        """Cancel and settle every open stop, risk-exit and re-entry order of the entry."""
        open_ = [
            o
            for o in self.settlement.executions.orders_of_execution(uid, execution_sk)
            if o.phase in RISK_PHASES
            and o.status not in TERMINAL
            and account_id in (None, o.account_id)
        ]
        if open_:
            self.settlement.cancel_open(uid, open_)
            self._reconcile(uid, open_)

    def freeze_for_exit(
        self, uid: str, account_id: str, strategy_ids: Iterable[str], on: date
    ) -> dict[str, dict[str, int]]:
        """The firer's hook at an exit: freeze each strategy's book for the account, then what
        it still holds per symbol. Strategies without a risk book today are left out: nothing
        can have closed behind the plan's back."""
        held: dict[str, dict[str, int]] = {}
        for strategy_id in strategy_ids:
            book = self.freeze(uid, on.isoformat(), strategy_id, ExitReason.EXIT_TIME, account_id)
            if book is None:
                continue
            held[strategy_id] = {
                p.symbol: int(p.net_quantity)
                for p in self.settlement.executions.positions(uid, strategy_id, consistent=True)
                if p.account_id == account_id
            }
        return held

    # -- plumbing ---------------------------------------------------------------------------------
    def adapter(self, uid: str, account_id: str) -> Broker | None:
        """The account's adapter (the container gives the engine a caching access), or None."""
        try:
            return self.settlement.closer.access.adapter(uid, account_id)
        except (DomainError, BrokerError) as error:
            log.warning("no adapter for risk", extra={"account": account_id, "error": str(error)})
            return None

    def _prices(
        self, uid: str, guards: Sequence[Guard], positions: Sequence[PositionItem]
    ) -> dict[tuple[str, ContractKey], Decimal]:
        holdings: dict[tuple[str, ContractKey], Holding] = {}
        for guard in guards:
            holdings[(guard.account_id, guard.key)] = guard.holding()
        for position in positions:
            if position.net_quantity:
                holding = holding_of_position(position)
                holdings.setdefault((holding.account_id, holding.key), holding)
        if not holdings:
            return {}
        prices, errors = self.settlement.closer.prices(uid, holdings.values())
        if errors:
            log.warning("risk prices incomplete", extra={"user": uid, "errors": errors})
        return prices

    def _refresh_orders(self, book: RiskBookItem, guards: Sequence[Guard]) -> dict[str, OrderItem]:
        """One order-book read per account with open risk orders; records transitions (fills
        reach the positions exactly once, through settlement)."""
        ids = [i for g in guards for name in ("stop_orders", "exit_orders", "entry_orders")
               for i in g.ids(name)]  # fmt: skip
        missing = [i for i in ids if i not in self._order_cache]
        for order in self.settlement.executions.orders(book.uid, book.trade_date, missing):
            self._order_cache[order.order_id] = order
        known = {i: self._order_cache[i] for i in ids if i in self._order_cache}
        orders = [o for o in known.values() if o.status not in TERMINAL]
        by_account: dict[str, list[OrderItem]] = {}
        for order in orders:
            by_account.setdefault(order.account_id, []).append(order)
        for account_id, pending in by_account.items():
            adapter = self.adapter(book.uid, account_id)
            if adapter is None:
                continue
            try:
                states = {s.order_id: s for s in adapter.order_book()}
            except BrokerError as error:
                log.warning("order book unavailable", extra={"error": error.kind})
                continue
            for order in pending:
                state = states.get(str(order.broker_order_id or ""))
                if state is not None:
                    self.settlement.record(order, state)
                else:
                    self.settlement.poll(adapter, order)
        return known

    def _reconcile(self, uid: str, orders: Sequence[OrderItem]) -> bool:
        """Settle orders with the engine's own (short) backoff: the monitor must not stall."""
        return self.settlement.reconcile(uid, orders)

    def _event(self, execution: ExecutionItem, event: dict[str, Any]) -> None:
        log.info("risk event", extra={"execution": execution.sk, "kind": event.get("kind")})
        self.settlement.executions.add_event(execution, event)


class _Context:
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
        self.events: list[dict[str, Any]] = []
        self.seq = 0

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
        """Write the book's new state; False when another monitor or a freeze got there first."""
        if not self.dirty:
            return True
        won = self.engine.books.save(self.book)
        self.dirty = not won
        return won

    def event(self, kind: str, guard: Guard | None = None, **fields: Any) -> None:
        where = {} if guard is None else {
            "guard": guard.id, "account_id": guard.account_id, "leg": guard.leg,
            "symbol": guard.symbol,
        }  # fmt: skip
        self.events.append({"kind": kind, **where, **fields})

    def execution(self) -> ExecutionItem:
        return self.engine.settlement.executions.get_execution(self.book.uid, self.book.execution)

    def finish(self) -> None:
        if self.dirty:
            self.claim()
        if self.events:
            execution = self.execution()
            for event in self.events:
                self.engine._event(execution, event)
            self.events = []

    # -- MTM ----------------------------------------------------------------------------------
    def mtm_exit(self, positions: Sequence[PositionItem]) -> bool:
        """Check the strategy's (or each account's) P&L; exit the scope when a rule says so."""
        risk = self.strategy.risk
        scopes: dict[str, list[PositionItem]] = {"ALL": list(positions)}
        if risk.mtm_scope is MtmScope.ACCOUNT:
            scopes = {}
            for position in positions:
                scopes.setdefault(position.account_id, []).append(position)
        marks = self.book.mtm or {"peak": {}, "exited": {}}
        exited_any = False
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
            marks["exited"][scope] = {
                "reason": reason.value,
                "mtm": str(value),
                "at": stamp(self.now),
            }
            account = None if scope == "ALL" else scope
            for doc in self.book.guards:
                if doc["state"] != DONE and account in (None, doc["account_id"]):
                    doc["state"], doc["reason"] = DONE, reason.value
            if account is None:
                self.book.status = BOOK_DONE
            self.book.mtm = marks
            self.dirty = True
            if not self.claim():
                return True
            self.event(
                "mtm_exit", reason=reason.value, mtm=str(value), peak=str(peak),
                floor=_s(locked_profit(peak, risk.lock_and_trail)), account_id=account,
            )  # fmt: skip
            self.close_scope(account)
            exited_any = True
        self.book.mtm = marks
        if exited_any:
            self.finish()
        return self.book.status != LIVE

    def close_scope(self, account_id: str | None) -> None:
        """Cancel the scope's risk orders first, then close every position it holds."""
        engine = self.engine
        engine.cancel_risk_orders(self.book.uid, self.book.execution, account_id)
        closer = engine.settlement.closer
        children, errors = closer.exit_orders(
            self.book.uid, self.book.strategy_id, at=self.now, account_id=account_id, phase="RISKX"
        )
        sent = closer.send_closing(
            self.book.uid, self.book.execution, self.book.strategy_id, children, phase="RISKX"
        )
        engine._reconcile(self.book.uid, sent)
        self.event(
            "closed", account_id=account_id,
            orders=[{"order_id": o.order_id, "status": o.status, "side": o.request["side"],
                     "quantity": int(o.request["quantity"]), "average_price": o.average_price}
                    for o in sent],
            errors=errors,
        )  # fmt: skip

    # -- one guard ----------------------------------------------------------------------------
    def advance(self, guard: Guard) -> None:
        if guard.state == ARMED:
            self.armed(guard)
        if guard.state == EXITING:
            self.exiting(guard)
        if guard.state == CLOSED:
            self.closed(guard)
        if guard.state == WAITING:
            self.waiting(guard)

    def leg_rules(self, guard: Guard) -> Any:
        return self.strategy.legs[guard.leg]

    def armed(self, guard: Guard) -> None:
        stops = self.orders(guard.ids("stop_orders"))
        if stops and all(o.status in TERMINAL for o in stops):
            if self.stops_settled(guard, stops):
                return
            stops = []
        ltp = self.ltp(guard)
        leg = self.leg_rules(guard)
        live_stops = [o for o in stops if o.status not in TERMINAL]
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
        if not self.claim():
            return
        engine = self.engine
        adapter = engine.adapter(self.book.uid, guard.account_id)
        if adapter is None:
            self.event("alert", guard, code="stop_not_placed", message="no broker session")
            return
        children = stop_children(guard, self.book.strategy_id, self.freeze_qty(guard),
                                 self.now.date(), self._seq(guard))  # fmt: skip
        items = self.send(adapter, children, "STOP")
        guard.doc["stop_orders"] = [o.order_id for o in items]
        guard.doc["broker_stop"] = guard.doc["stop"]
        guard.doc["modifications"] = 0
        self.dirty = True
        refused = [o for o in items if o.status in FAILED]
        if items and len(refused) == len(items):
            # Refused outright (e.g. a limit outside the exchange's price band): a retry would be
            # refused the same way, so the monitor watches the stop and says so.
            guard.doc["stop_orders"], guard.doc["broker_stop"] = [], None
            guard.doc["software_stop"] = True
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
        self.claim()

    def move_stops(self, guard: Guard, live: Sequence[OrderItem], stop: Decimal) -> None:
        broker = str(guard.doc["contract"].get("broker", ""))
        cap = broker_capabilities(broker).max_modifications
        if not self.claim():
            return
        adapter = self.engine.adapter(self.book.uid, guard.account_id)
        if adapter is None:
            return
        if int(guard.doc["modifications"]) >= cap:
            guard.doc["cancel_requested"] = True
            self.engine.settlement.cancel_open(self.book.uid, live)
            self.dirty = True
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
            except BrokerError as error:
                self.event("alert", guard, code="stop_not_moved", message=str(error))
                continue
            order.request = {**order.request, "trigger": str(stop), "limit_price": str(limit)}
            self.engine.settlement.executions.save_order(order)
            moved += 1
        if moved == len(live):
            guard.doc["broker_stop"] = str(stop)
        guard.doc["modifications"] = int(guard.doc["modifications"]) + 1
        self.dirty = True
        self.claim()

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
        self.exiting(guard)

    def exiting(self, guard: Guard) -> None:
        """Cancel the stop orders, settle them, then close what they did not."""
        engine = self.engine
        stops = self.orders(guard.ids("stop_orders"))
        open_stops = [o for o in stops if o.status not in TERMINAL]
        if open_stops:
            engine.settlement.cancel_open(self.book.uid, open_stops)
            engine._reconcile(self.book.uid, open_stops)
            if any(o.status not in TERMINAL for o in open_stops):
                return  # the cancel is still pending: never close under a live stop
        exits = self.orders(guard.ids("exit_orders"))
        if any(o.status not in TERMINAL for o in exits):
            engine._reconcile(self.book.uid, exits)
            if any(o.status not in TERMINAL for o in exits):
                return
        done = sum(int(o.filled_quantity or 0) for o in [*stops, *exits])
        left = guard.quantity - done
        if left <= 0:
            guard.state = CLOSED
            guard.set_price("exit_price", _average([*stops, *exits]))
            self.dirty = True
            self.event("closed", guard, reason=guard.doc["reason"], price=guard.doc["exit_price"])
            return
        if int(guard.doc["exit_attempts"]) >= MAX_EXIT_ATTEMPTS:
            guard.state, guard.doc["reason"] = DONE, f"{guard.doc['reason']}_FAILED"
            self.dirty = True
            self.event("alert", guard, code="exit_failed", left=left,
                       message="closing orders keep failing; the position is still open")  # fmt: skip
            return
        ltp = self.ltp(guard) or guard.price("trigger_price")
        adapter = engine.adapter(self.book.uid, guard.account_id)
        if ltp is None or adapter is None:
            return
        guard.doc["exit_attempts"] = int(guard.doc["exit_attempts"]) + 1
        self.dirty = True
        if not self.claim():
            return
        children = closing_children(guard, self.book.strategy_id, left, ltp,
                                    self.freeze_qty(guard), self.now.date(), self._seq(guard))  # fmt: skip
        items = self.send(adapter, children, "RISKX")
        guard.doc["exit_orders"] = guard.ids("exit_orders") + [o.order_id for o in items]
        self.dirty = True
        self.claim()
        engine._reconcile(self.book.uid, items)
        if all(o.status in TERMINAL for o in items):
            self.exiting(guard)

    def closed(self, guard: Guard) -> None:
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
        ltp = self.ltp(guard)
        exit_price = guard.price("exit_price") or guard.entry
        if ltp is None or not re_entry_ready(rule.mode, guard.entry, exit_price, ltp):
            return
        guard.state = DONE
        self.dirty = True
        if not self.claim():
            guard.state = WAITING
            return
        adapter = self.engine.adapter(self.book.uid, guard.account_id)
        if adapter is None:
            self.event("alert", guard, code="re_entry_failed", message="no broker session")
            return
        children = reentry_children(guard, self.book.strategy_id, ltp, self.freeze_qty(guard),
                                    self.now.date(), self._seq(guard))  # fmt: skip
        items = self.send(adapter, children, "REENTRY")
        self.engine._reconcile(self.book.uid, items)
        fills = entry_fills([o for o in items if o.status in TERMINAL])
        filled = fills.get((guard.account_id, guard.leg))
        if filled is None:
            self.event("alert", guard, code="re_entry_failed", price=str(ltp),
                       orders=[o.order_id for o in items])  # fmt: skip
            self.claim()
            return
        units, price, _request = filled
        doc = new_guard(
            account_id=guard.account_id, leg_index=guard.leg, leg=self.leg_rules(guard),
            cycle=int(guard.doc["cycle"]) + 1, contract=guard.doc["contract"], quantity=units,
            entry_price=price, re_entries=int(guard.doc["re_entries"]) + 1,
        )  # fmt: skip
        doc["entry_orders"] = [o.order_id for o in items]
        self.book.guards = [*self.book.guards, doc]
        self.dirty = True
        self.event("re_entered", guard, price=str(ltp), entry_price=str(price), quantity=units,
                   mode=rule.mode.value, count=doc["re_entries"], new_guard=doc["id"])  # fmt: skip
        self.claim()
        fresh = Guard(doc)
        if fresh.price("stop") is not None:
            self.place_stops(fresh)

    # -- sending ------------------------------------------------------------------------------
    def send(self, adapter: Broker, children: Sequence[ChildOrder], phase: str) -> list[OrderItem]:
        engine = self.engine
        executions = engine.settlement.executions
        items = []
        for child in children:
            item = order_item(self.book.uid, self.book.execution, self.book.strategy_id, phase,
                              child, self.now)  # fmt: skip
            send(adapter, item, engine.settlement.closer.market, executions, engine.clock)
            items.append(item)
        self.known.update({o.order_id: o for o in items})
        engine._order_cache.update({o.order_id: o for o in items})
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
