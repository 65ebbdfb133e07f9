"""The planner: everything due at slot T, gated exactly once and built into orders before T.

Per tick: skip holidays, weekends and minutes outside the session; read the slot through GSI2
(one Query per shard); read every due account and its session in BatchGets of 100 keys; take the
exactly-once gate per (user, strategy, date, phase); resolve each strategy's series once per
underlying and expiry (one quote fetch); build and store every child order (status BUILT) with its
`scheduled_at`. The firer then only sends. A duplicate trigger, a retry or a second clock finds
the gate taken and builds nothing. A slot may be planned in parts (``plan(slot, part)``: the
users of one uid range, domain/plan_parts.py), one plan Lambda each; the store (ports/planning.py)
reads only that part's schedule.

Isolation: one strategy's failure (a storage error writing its orders, a broker error) is recorded
on its execution and never stops the tick for anyone else. Transient quote failures are retried
until shortly before T (``quote_deadline`` before the slot) in a second pass, so one slow user
does not delay the others; an entry skipped at the end says why (summary ``reason``).
"""

from __future__ import annotations

import logging
import threading
import time as timer
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from chalicelib.domain import day_limits
from chalicelib.domain.calendar import IST, default_calendar
from chalicelib.domain.market_errors import MarketDataError, MarketRuleError
from chalicelib.domain.plan_parts import PlanPart
from chalicelib.domain.records import ExecutionRecord, ScheduleRecord, SessionRecord
from chalicelib.domain.strategy import Weekday
from chalicelib.errors import DependencyUnavailable, DomainError
from chalicelib.ports.broker_errors import BrokerError
from chalicelib.ports.planning import Accounts, PlanStore
from chalicelib.services.margin_check import PreEntry
from chalicelib.services.order_builder import ChildOrder, OrderBuilder, market_error
from chalicelib.services.plan_checks import not_a_dte_day, unusable
from chalicelib.services.plan_writes import ORDERS_PER_WRITE, PlanWriter
from chalicelib.services.quotes import QuoteSource
from chalicelib.services.tick_plan import PlannedExecution, TickPlan

log = logging.getLogger(__name__)
#: Users planned at once (threads: the time goes to DynamoDB round trips and quote fetches).
PLAN_WORKERS = 16

# uid -> a check (strategy_id, account_id) -> the reason a kill switch blocks new entries, or None.
# Loaded once per user per tick (one Query), not per strategy and account.
KillSwitchCheck = Callable[[str], Callable[[str, str], str | None]]
# (uid, strategy_id, brokers by account, at) -> closing orders built from the strategy's positions
# (what the entry actually filled, never a mirror of the config), and what could not be built.
ExitBuilder = Callable[
    [str, str, dict[str, str], datetime], tuple[list[ChildOrder], list[dict[str, Any]]]
]
# A user's usable (account, session) pairs -> the quote source for that user's strategies, or None
# for the default (quotes are fetched once per user, underlying and expiry in a tick).
QuotesFor = Callable[[list[tuple[Any, SessionRecord]]], QuoteSource | None]


@dataclass
class Planner:
    store: PlanStore
    builder: OrderBuilder
    owner: str
    kill_switch: KillSwitchCheck | None = None
    exit_builder: ExitBuilder | None = None
    quotes_for: QuotesFor | None = None
    pre_entry: PreEntry | None = None
    #: Wall clock for the quote retries (None: one attempt only).
    clock: Callable[[], datetime] | None = None
    sleep: Callable[[float], None] = timer.sleep
    #: Quote retries stop this long before T: the firer still has to claim and send.
    quote_deadline: timedelta = timedelta(seconds=5)
    quote_backoff: tuple[float, ...] = (0.5, 1.0, 2.0, 3.0)
    #: (uid, execution sk) -> None for an entry whose every leg waits (wait and trade): arms
    #: the risk book that enters them (``RiskEngine.arm``; it retries and alerts on failure).
    on_waiting: Callable[[str, str], Any] | None = None
    #: Users planned at once.
    workers: int = PLAN_WORKERS

    def plan(self, slot: datetime, part: PlanPart | None = None) -> TickPlan:
        """Plan slot T, or only the users of ``part`` (one of several planners of the slot)."""
        slot = slot.astimezone(IST).replace(second=0, microsecond=0)
        plan = TickPlan(slot)
        calendar = default_calendar()
        session = calendar.session(slot.date())
        if not calendar.is_trading_day(slot.date()) or session is None:
            plan.skipped = calendar.holiday_reason(slot.date()) or "not a trading day"
            return plan
        if not session.open <= slot.time() < session.close:
            plan.skipped = "outside the F&O session"
            return plan
        reads = self.store.read_slot(Weekday.of(slot.date()).value, slot.strftime("%H%M"), part)
        due, accounts, closed = reads.due, reads.accounts, reads.closed
        plan.stats = {
            "due": len(due),
            "accounts": len({(d.uid, a) for d in due for a in d.payload["accounts"]}),
            "dynamodb_requests_to_plan": reads.requests,
            "duplicates": 0,
        }
        retry: list[_Pending] = []
        plan.stats["failed"] = 0
        ordered = sorted(due, key=lambda d: (d.fire_time, d.uid, d.strategy_id))
        by_user: dict[str, list[tuple[int, ScheduleRecord]]] = {}
        for index, item in enumerate(ordered):
            by_user.setdefault(item.uid, []).append((index, item))
        lock = threading.Lock()
        writer = PlanWriter(self.store, self.on_waiting)

        def plan_user(items: list[tuple[int, ScheduleRecord]]) -> list[tuple[int, Any]]:
            """One user's due strategies in order (its builder and kill switch read once)."""
            done: list[tuple[int, Any]] = []
            builder: OrderBuilder | None = None
            block: Callable[[str, str], str | None] = _no_block
            deferred: list[
                tuple[PlannedExecution, ExecutionRecord]
            ] = []  # built, written together (plan_writes.py)

            def flush() -> None:
                lost = {id(p) for p in writer.store_many(deferred)}
                deferred.clear()
                if lost:
                    done[:] = [(i, p) for i, p in done if id(p) not in lost]
                    with lock:
                        plan.stats["failed"] += len(lost)

            for index, item in items:
                try:
                    if builder is None:
                        builder = self._builder_for(item.uid, accounts, slot)
                        block = self.kill_switch(item.uid) if self.kill_switch else _no_block
                    planned = self._plan_one(
                        item, slot, accounts, builder, block, retry,
                        closed.get((item.uid, item.strategy_id)), deferred,
                    )  # fmt: skip
                except Exception:  # one strategy's failure never stops the tick for the others
                    log.exception(
                        "planning failed",
                        extra={"user": item.uid, "strategy": item.strategy_id, "phase": item.phase},
                    )
                    with lock:
                        plan.stats["failed"] += 1
                    continue
                if planned is None:
                    with lock:
                        plan.stats["duplicates"] += 1
                    continue
                done.append((index, planned))
                if sum(len(p.orders) for p, _ in deferred) >= ORDERS_PER_WRITE:
                    flush()
            if deferred:
                flush()
            return done

        # Users in parallel: each strategy's gate and order writes are a few sequential requests,
        # so 10,000 due strategies one after another would not fit the plan's lead on AWS.
        workers = max(1, min(self.workers, len(by_user)))
        if workers == 1:
            planned_by_user = [plan_user(items) for items in by_user.values()]
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                planned_by_user = list(pool.map(plan_user, by_user.values()))
        plan.executions.extend(p for _, p in sorted(
            (pair for pairs in planned_by_user for pair in pairs), key=lambda pair: pair[0]
        ))  # fmt: skip
        self._retry_quotes(retry, slot)
        log.info("tick planned", extra={"slot": slot.isoformat(), **plan.stats})
        return plan

    def _retry_quotes(self, pending: list[_Pending], slot: datetime) -> None:
        """Second pass: entries whose quotes failed transiently, retried until the deadline."""
        for delay in self.quote_backoff if self.clock is not None else ():
            if not pending:
                return
            assert self.clock is not None
            if self.clock() + timedelta(seconds=delay) > slot - self.quote_deadline:
                break
            self.sleep(delay)
            still: list[_Pending] = []
            for attempt in pending:
                try:
                    if not self._build(attempt):
                        still.append(attempt)
                except Exception:
                    log.exception("planning failed", extra={"user": attempt.planned.uid})
            pending = still
        for attempt in pending:
            attempt.planned.errors.append(
                {
                    "code": "quotes_unavailable",
                    "message": f"{attempt.last_error} (after {attempt.failures} attempts)",
                }
            )
            try:
                self._store(attempt.planned, attempt.gate)
            except Exception:
                log.exception("skip not recorded", extra={"user": attempt.planned.uid})

    def _builder_for(
        self,
        uid: str,
        accounts: Accounts,
        slot: datetime,
    ) -> OrderBuilder:
        """A per-tick builder for one user: its own quote source, series cached for the tick."""
        usable = [
            (a, s)
            for (owner, _), (a, s) in sorted(accounts.items())
            if owner == uid and s is not None and unusable((a, s), slot) is None
        ]
        try:
            source = self.quotes_for(usable) if self.quotes_for else None
        except DomainError as error:
            log.warning("no quote source for user", extra={"user": uid, "error": str(error)})
            source = None
        return OrderBuilder(self.builder.market, source or self.builder.quotes)

    def _plan_one(
        self,
        item: ScheduleRecord,
        slot: datetime,
        accounts: Accounts,
        builder: OrderBuilder,
        blocked: Callable[[str, str], str | None],
        retry: list[_Pending],
        basket_closed: str | None = None,
        deferred: list[tuple[PlannedExecution, ExecutionRecord]] | None = None,
    ) -> PlannedExecution | None:
        scheduled_at = datetime.combine(slot.date(), time.fromisoformat(item.fire_time), tzinfo=IST)
        trade_date = slot.date().isoformat()
        gate = self.store.open_execution(
            item.uid, trade_date, item.strategy_id, item.phase, scheduled_at.isoformat(), self.owner
        )
        if gate is None:
            return None  # another trigger or clock owns this execution: send nothing
        planned = PlannedExecution(item.uid, item.strategy_id, item.phase, gate.sk, scheduled_at)
        if basket_closed and item.phase == "ENTRY":  # exits still close what is held
            planned.errors.append({"code": "basket_closed", "message": basket_closed})
            self._store(planned, gate)  # SKIPPED, with the reason
            return planned
        off_day = (
            not_a_dte_day(item.payload, slot.date(), builder.market)
            if item.phase == "ENTRY"
            else None
        )
        if off_day:
            planned.errors.append({"code": "not_a_dte_day", "message": off_day})
            self._store(planned, gate)  # SKIPPED, with the reason
            return planned
        brokers: dict[str, str] = {}
        for account_id in item.payload["accounts"]:
            found = accounts.get((item.uid, account_id))
            code, reason = "account_unusable", unusable(found, scheduled_at)
            if reason is None and item.phase == "ENTRY":
                reason = blocked(item.strategy_id, account_id)
            if reason is None and item.phase == "ENTRY":  # a day limit was reached today
                code = day_limits.REASON_CODE
                reason = day_limits.reached_on(found[0].day_limit, trade_date)  # type: ignore[index]
            if reason:
                planned.errors.append({"account_id": account_id, "code": code, "message": reason})
            else:
                brokers[account_id] = found[0].broker  # type: ignore[index]
        attempt = _Pending(planned, gate, item, brokers, builder)
        if self._build(attempt, deferred):
            return planned
        retry.append(attempt)  # quotes failed transiently: retried after everyone else
        return planned

    def _build(
        self,
        attempt: _Pending,
        deferred: list[tuple[PlannedExecution, ExecutionRecord]] | None = None,
    ) -> bool:
        """Build and store the orders (or hand them to ``deferred``, the user's next write);
        False on a transient quote failure (not stored yet)."""
        planned, item = attempt.planned, attempt.item
        errors = list(planned.errors)
        try:
            orders = self._orders(item, attempt.brokers, planned.scheduled_at, planned,
                                  attempt.builder)  # fmt: skip
        except MarketRuleError as error:
            if isinstance(error, MarketDataError):  # quotes missing or stale: may come back
                planned.errors = errors
                attempt.failures += 1
                attempt.last_error = str(error)
                return False
            orders = []
            planned.errors.append(market_error(error, "market"))
        except (BrokerError, DependencyUnavailable) as error:
            planned.errors = errors  # the next attempt starts from the account checks again
            attempt.failures += 1
            attempt.last_error = str(error)
            return False
        except DomainError as error:
            orders = []
            planned.errors.append({"code": "quotes_unavailable", "message": str(error)})
        max_delay = item.payload.get("max_entry_delay_seconds")
        planned.orders = [  # one deterministic id per order and day: tag and account
            self.store.new_order(item.uid, attempt.gate.sk, item.strategy_id, item.phase, o,
                                 planned.scheduled_at, order_id=f"{o.tag}-{o.account_id}")
            for o in orders
        ]  # fmt: skip
        for order in planned.orders:  # built here, not stored yet
            if item.phase == "ENTRY" and max_delay is not None:
                order.max_delay_seconds = int(max_delay)
        if deferred is None or not planned.orders:  # nothing to batch: recorded at once
            self._store(planned, attempt.gate)
        else:
            deferred.append((planned, attempt.gate))
        return True

    def _store(self, planned: PlannedExecution, gate: ExecutionRecord) -> None:
        """The orders (BUILT) and the execution's summary; a skip always says why."""
        PlanWriter(self.store, self.on_waiting).store(planned, gate)

    def _orders(
        self,
        item: ScheduleRecord,
        brokers: dict[str, str],
        at: datetime,
        planned: PlannedExecution,
        builder: OrderBuilder,
    ) -> list[ChildOrder]:
        if not brokers:
            return []
        if item.phase == "EXIT":
            if self.exit_builder is None:
                planned.errors.append({"code": "exit_unavailable", "message": "no exit builder"})
                return []
            closing, errors = self.exit_builder(item.uid, item.strategy_id, brokers, at)
            planned.errors.extend(errors)
            return [o for o in closing if o.account_id in brokers]
        accounts = {a: legs for a, legs in item.payload["accounts"].items() if a in brokers}
        # Waiting legs (wait and trade) are entered by the risk monitor once their premium moved.
        sent = {a: [leg for leg in legs if not leg.get("wait")] for a, legs in accounts.items()}
        sent = {a: legs for a, legs in sent.items() if legs}
        if not sent:  # every leg waits: the entry is WAITING (its book is armed at planning)
            planned.waiting = any(leg.get("wait") for legs in accounts.values() for leg in legs)
            return []
        payload = {**item.payload, "accounts": sent}
        orders, errors = builder.entry_orders(item.strategy_id, payload, brokers, at)
        if self.pre_entry is not None and orders:  # the margin check: accounts that cannot pay
            orders, refused = self.pre_entry(item.uid, item.strategy_id, item.payload, orders, at)
            errors = [*errors, *refused]
        planned.errors.extend(errors)
        return orders


@dataclass
class _Pending:
    """An execution whose orders are not built yet (its quotes failed transiently)."""

    planned: PlannedExecution
    gate: ExecutionRecord
    item: ScheduleRecord
    brokers: dict[str, str]
    builder: OrderBuilder
    failures: int = 0
    last_error: str = ""


def _no_block(strategy_id: str, account_id: str) -> str | None:
    return None
