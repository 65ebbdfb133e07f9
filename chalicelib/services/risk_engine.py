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
the caller closes what the positions then say is held (``risk_freeze``).

Ports: the books (``ports.risk.RiskBookStore``), the risk orders (``RiskOrderStore``), the
strategy and account reads (``StrategyReader``) and settlement as the order desk
(``risk_desk.OrderDesk``); ``container.py`` wires the DynamoDB adapters and ``Settlement``.

Every decision is an event on the entry execution, with the price that triggered it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from decimal import Decimal
from time import monotonic as _monotonic
from typing import Any

from chalicelib.domain.broker_support import BrokerSupport, broker_capabilities
from chalicelib.domain.calendar import IST
from chalicelib.domain.instrument import ContractKey
from chalicelib.domain.records import ExecutionRecord, OrderRecord, PositionRecord, RiskBookRecord
from chalicelib.domain.risk_book import LIVE
from chalicelib.domain.strategy import Strategy
from chalicelib.domain.strategy_documents import from_document, to_document
from chalicelib.errors import DomainError, NotFound
from chalicelib.ports.broker import Broker
from chalicelib.ports.broker_errors import BrokerError
from chalicelib.ports.risk import RiskBookStore, RiskOrderStore, StrategyReader
from chalicelib.services import risk_orphans
from chalicelib.services.closing import Holding, holding_of_position
from chalicelib.services.guards import (
    ENDING_STATES,
    LIVE_STATES,
    ORDER_FIELDS,
    Guard,
    entry_fills,
    new_guard,
)
from chalicelib.services.index_quotes import index_level
from chalicelib.services.leases import Leases
from chalicelib.services.order_sender import stamp
from chalicelib.services.risk_desk import OrderDesk
from chalicelib.services.risk_freeze import Freezing
from chalicelib.services.risk_intents import Intents, in_flight
from chalicelib.services.risk_step import BookStep, past_takeover
from chalicelib.services.settlement import TERMINAL, Backoff
from chalicelib.services.underlying_watch import reference as underlying_mark
from chalicelib.services.underlying_watch import watch_underlying
from chalicelib.services.wait_trade import pending_guards, resolved, watch_pending

log = logging.getLogger(__name__)
QUICK = Backoff(first=0.05, factor=2.0, cap=0.5, deadline=5.0)


@dataclass
class RiskEngine(Freezing):
    books: RiskBookStore
    repo: StrategyReader
    #: Settlement as the monitor's order desk (``risk_desk.OrderDesk``): polls, cancels, prices.
    settlement: OrderDesk
    clock: Callable[[], datetime]
    #: The risk orders' store: intents, their transitions, reads, events.
    orders: RiskOrderStore
    #: The close lease every closer of a (user, strategy, account) takes (``services.leases``):
    #: the monitor's closes, stop placements and moves, and re-entries never run beside a kill
    #: switch's square-off or the exit at T. None only in rigs that test the engine alone.
    leases: Leases | None = None
    #: Why a new position of (uid, strategy, account) may not be opened now (an engaged kill
    #: switch), or None: asked before a re-entry starts.
    entry_block: Callable[[str, str, str], str | None] | None = None
    monotonic: Callable[[], float] = _monotonic
    #: What a broker's API can do (dated data): how many modifications a stop order may take.
    capabilities: Callable[[str], BrokerSupport] = broker_capabilities
    #: (step, order) -> None at each step of a risk order's send (``before_claim``,
    #: ``after_claim``, ``after_send``, ``after_ack``): the fault-matrix tests die here.
    checkpoint: Callable[[str, OrderRecord], None] | None = None
    #: Risk orders by id, kept across cycles: the broker's order book refreshes the open ones,
    #: so the table is read for an order once, not every second.
    _order_cache: dict[str, OrderRecord] = field(default_factory=dict)
    #: Index levels read this cycle: (user, underlying, moment) -> level (``index_level``).
    _index_levels: dict[tuple[str, str, str], Decimal | None] = field(default_factory=dict)
    #: Books whose orphaned intents this engine has swept (``resolve_orphans``): once each.
    _swept: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.intents = Intents(self.orders, self.settlement, self.clock, self.at)

    def at(self, step: str, order: OrderRecord) -> None:
        """A named step of a risk order's send (see ``checkpoint``)."""
        if self.checkpoint is not None:
            self.checkpoint(step, order)

    # -- arming ---------------------------------------------------------------------------------
    def arm(self, uid: str, execution_sk: str) -> RiskBookRecord | None:
        """Create the day's risk book from a settled entry and place its stops (idempotent)."""
        executions = self.orders
        execution = executions.get_execution(uid, execution_sk)
        if execution.phase != "ENTRY" or execution.status in ("UNWOUND", "FAILED", "SKIPPED"):
            return None
        try:
            strategy = from_document(self.repo.get_strategy(uid, execution.strategy_id).spec)
        except NotFound:
            return None
        if not strategy.has_risk_rules:
            return None
        # The index finds the entry's orders; their states are read again consistently, since
        # the guards are sized from what they filled.
        listed = [o.order_id for o in executions.orders_of_execution(uid, execution_sk)]
        orders = [
            o for o in executions.orders(uid, execution.trade_date, listed) if o.phase == "ENTRY"
        ]
        # Waiting legs (wait and trade): one PENDING guard each, entered by the monitor.
        guards = entry_guards(strategy, orders) + pending_guards(strategy)
        now = self.clock().astimezone(IST)
        # Armed at planning (every leg waits): the index's reference is taken from T on.
        started = now.time() >= strategy.entry_time
        spot = (
            self.index_level(uid, strategy, now)
            if strategy.risk.watches_underlying and started
            else None
        )
        book = self.books.create_book(
            uid,
            execution.trade_date,
            execution.strategy_id,
            execution=execution_sk,
            exit_time=strategy.exit_time.isoformat(),
            rules=to_document(strategy),
            guards=guards,
            mtm={"peak": {}, "exited": {}, **underlying_mark(spot, stamp(now))},
        )
        if book is None:
            return self.books.get(uid, execution.trade_date, execution.strategy_id)
        self._event(execution, {"kind": "risk_armed", "guards": [g["id"] for g in guards],
                                **({} if spot is None else {"spot": str(spot)})})  # fmt: skip
        self.step(book, now)
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

    def step(self, book: RiskBookRecord, now: datetime) -> None:
        """Decide and act on one book, claiming each transition before any broker call. After
        the exit time only exits still in progress are carried on (nothing new starts)."""
        if book.status != LIVE:
            return
        if book.sk not in self._swept and risk_orphans.sweep_book(self, book, now):
            return  # an intent was adopted into the book: decide from it next cycle
        after_exit = now.time() >= time.fromisoformat(book.exit_time)
        # Past T + EXIT_TAKEOVER a guard the exit at T did not freeze (its account had no
        # planned exit order) is closed by the monitor itself (``BookStep.take_over``).
        states = LIVE_STATES if not after_exit or past_takeover(book, now) else ENDING_STATES
        strategy = from_document(book.rules)
        guards = [Guard(doc) for doc in book.guards]
        live = [g for g in guards if g.state in states]
        exited = (book.mtm or {}).get("exited") or {}
        # Positions matter only to strategy exits (read consistently: they decide what is closed).
        watches_mtm = strategy.risk.watches_mtm and not after_exit and "ALL" not in exited
        watches_index = (
            strategy.risk.watches_underlying
            and not after_exit
            and "ALL" not in exited
            and now.time() >= strategy.entry_time  # a book armed at planning waits for T
        )
        positions = (
            self.orders.positions(book.uid, book.strategy_id, consistent=True)
            if watches_mtm or watches_index
            else []
        )
        spot = self.index_level(book.uid, strategy, now) if watches_index else None
        waiting = [g for g in guards if resolved(g)] if not after_exit else []
        prices = self._prices(book.uid, [*live, *waiting], positions)
        known = self._refresh_orders(book, live, now)
        context = BookStep(self, book, strategy, now, prices, known)
        try:
            if watches_mtm:
                context.mtm_exit(positions)
            if watches_index:
                watch_underlying(context, positions, spot)
            for guard in live:
                if guard.state in LIVE_STATES and context.ltp(guard) is None:
                    context.alert("blind", guard, urgent=True, message="no price for a guarded "
                                  "position: its target, trailing and software stop cannot act")  # fmt: skip
            for doc in list(book.guards):
                guard = Guard(doc)
                if guard.state in states:
                    context.advance(guard)
            if not after_exit:
                watch_pending(context)
            context.finish()
        except Exception:
            context.release_leases()
            raise
        # Not in a ``finally``: a process that dies here (a crash, a SIGKILL) frees nothing; its
        # lease expires (``risk_step.LEASE_TTL``), and a restarted monitor shares its owner.
        context.release_leases()

    # -- orphaned intents (a sender that died between storing and claiming) -------------------
    def resolve_orphans(
        self, uid: str, orders: Sequence[OrderRecord], now: datetime | None = None
    ) -> dict[str, int]:
        """Risk intents no guard names, resolved by tag (``services.risk_orphans``); the
        recovery sweep calls it with the day's BUILT orders."""
        return risk_orphans.resolve(self, uid, orders, now or self.clock())

    # -- plumbing ---------------------------------------------------------------------------------
    def index_level(self, uid: str, strategy: Strategy, now: datetime) -> Decimal | None:
        """The underlying's live level through one of the strategy's accounts, or None; read
        once per user, underlying and moment (a cycle's books share it: quote calls are
        rate-limited by the brokers)."""
        key = (uid, strategy.underlying.value, now.isoformat())
        if key not in self._index_levels:
            market = self.settlement.closer.market
            level = index_level(lambda a: self.adapter(uid, a), strategy, market, now)
            self._index_levels = {key: level} | {
                k: v for k, v in self._index_levels.items() if k[2] == key[2]
            }
        return self._index_levels[key]

    def adapter(self, uid: str, account_id: str) -> Broker | None:
        """The account's adapter (the container gives the engine a caching access), or None."""
        try:
            return self.settlement.closer.access.adapter(uid, account_id)
        except (DomainError, BrokerError) as error:
            log.warning("no adapter for risk", extra={"account": account_id, "error": str(error)})
            return None

    def _prices(
        self, uid: str, guards: Sequence[Guard], positions: Sequence[PositionRecord]
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

    def _refresh_orders(
        self, book: RiskBookRecord, guards: Sequence[Guard], now: datetime
    ) -> dict[str, OrderRecord]:
        """One order-book read per account with open risk orders; records transitions (fills
        reach the positions exactly once, through settlement). Orders in flight (an intent not
        yet acknowledged, maybe another actor's) are read again from the table each time and
        resolved by tag, never sent again."""
        ids = [i for g in guards for name in ORDER_FIELDS for i in g.ids(name)]
        stale = [i for i in ids if i not in self._order_cache or in_flight(self._order_cache[i])]
        for order in self.orders.orders(book.uid, book.trade_date, stale):
            self._order_cache[order.order_id] = order
        known = {i: self._order_cache[i] for i in ids if i in self._order_cache}
        by_account: dict[str, list[OrderRecord]] = {}
        for order in known.values():
            if order.status not in TERMINAL:
                by_account.setdefault(order.account_id, []).append(order)
        for account_id, pending in by_account.items():
            adapter = self.adapter(book.uid, account_id)
            for order in [o for o in pending if in_flight(o)]:
                self.intents.resolve(adapter, order, now)
            acked = [o for o in pending if o.broker_order_id and o.status not in TERMINAL]
            if adapter is None or not acked:
                continue
            try:
                states = {s.order_id: s for s in adapter.order_book()}
            except BrokerError as error:
                log.warning("order book unavailable", extra={"error": error.kind})
                continue
            for order in acked:
                state = states.get(str(order.broker_order_id))
                if state is not None:
                    self.settlement.record(order, state)
                else:
                    self.settlement.poll(adapter, order)
        return known

    def _reconcile(self, uid: str, orders: Sequence[OrderRecord]) -> bool:
        """Settle orders with the engine's own (short) backoff: the monitor must not stall."""
        return self.settlement.reconcile(uid, orders)

    def _event(self, execution: ExecutionRecord, event: dict[str, Any]) -> None:
        log.info("risk event", extra={"execution": execution.sk, "kind": event.get("kind")})
        self.orders.add_event(execution, event)  # its own item; notifications hook

    def record_event(self, uid: str, execution_sk: str, event: dict[str, Any]) -> None:
        self.record_events(uid, execution_sk, [event])

    def record_events(self, uid: str, execution_sk: str, events: Sequence[dict[str, Any]]) -> None:
        """Events of one pass on the entry execution (one read of the execution, one append-only
        item per event)."""
        if not events:
            return
        execution = self.orders.get_execution(uid, execution_sk)
        for event in events:
            self._event(execution, event)


def entry_guards(strategy: Strategy, orders: Sequence[OrderRecord]) -> list[dict[str, Any]]:
    """One guard per guarded (account, leg) of the entry, sized by what has filled so far; an
    order still resting (settlement's deadline passed) is kept in ``entry_orders`` and its later
    fills grow the guard (``BookStep.follow_fills``): every filled unit is guarded as it fills."""
    fills = entry_fills(orders)
    slots: dict[tuple[str, int], list[OrderRecord]] = {}
    for order in orders:
        if order.filled_quantity or order.status not in TERMINAL:
            slots.setdefault((order.account_id, int(order.request["leg"])), []).append(order)
    guards = []
    for (account_id, index), placed in slots.items():
        leg = strategy.legs[index]
        if not leg.guarded:
            continue
        units, price, request = fills.get(
            (account_id, index),
            (0, Decimal(str(placed[0].request["limit_price"])), placed[0].request),
        )
        contract = {**request, "broker_symbol": request.get("broker_symbol", "")}
        doc = new_guard(
            account_id=account_id, leg_index=index, leg=leg, cycle=0,
            contract=contract, quantity=units, entry_price=price,
        )  # fmt: skip
        doc["entry_orders"] = [o.order_id for o in placed]
        guards.append(doc)
    return guards
