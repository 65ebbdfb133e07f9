"""The shared state of one monitor pass over one risk book (``StepCore``).

What the engine read for the book this cycle (prices, its risk orders), the close lease, the
book's claim (its conditional write: a pass that loses it acts on nothing more), the pass's
events and deduplicated alerts, and the write-before-send of every risk order (``send``). The
guard state machine is built on it in ``risk_step.BookStep`` from the mixins ``risk_mtm``,
``risk_stops``, ``risk_exits`` and ``risk_reentry``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from chalicelib.domain.calendar import IST
from chalicelib.domain.instrument import ContractKey
from chalicelib.domain.market_errors import MarketRuleError
from chalicelib.domain.records import OrderRecord, RiskBookRecord
from chalicelib.domain.risk_book import DONE as BOOK_DONE
from chalicelib.domain.risk_book import LIVE
from chalicelib.domain.strategy import Strategy
from chalicelib.errors import DependencyUnavailable
from chalicelib.ports.broker import Broker
from chalicelib.services.guards import DONE, Guard
from chalicelib.services.order_builder import ChildOrder
from chalicelib.services.order_sender import stamp

if TYPE_CHECKING:
    from chalicelib.services.risk_engine import RiskEngine

#: An alert's condition still holding is said again after this long (never more often).
ALERT_EVERY = timedelta(seconds=30)
#: The monitor's close lease: longer than one pass's acts on a pair (sends and settles, about
#: 10 s on a slow broker, renewed before each act), shorter than the exit's 20 s patience, so a
#: monitor that died holding it never keeps the exit at T back.
LEASE_TTL = 15.0
#: Renew a lease held this long (seconds) before the next act of the same pass.
LEASE_RENEW = 5.0
#: The exit at T freezes the guards of every account it has a planned order for (the firer's
#: hook) and closes what they hold. A guard still ARMED this long after T belongs to an account
#: the exit had no order for (nothing was held when it was planned; a re-entry or a late entry
#: fill came after): the monitor closes it itself, as an EXIT_TIME exit. A late hook is safe
#: beside it: both take the close lease and the hook trims its orders to what is then held.
EXIT_TAKEOVER = timedelta(seconds=15)
log = logging.getLogger(__name__)


class StepCore:
    """One book's pass: what was read, the claim, the events; the decisions are the mixins'."""

    def __init__(
        self,
        engine: RiskEngine,
        book: RiskBookRecord,
        strategy: Strategy,
        now: datetime,
        prices: dict[tuple[str, ContractKey], Decimal],
        known: dict[str, OrderRecord],
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

    def orders(self, ids: Iterable[str]) -> list[OrderRecord]:
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

    def leg_rules(self, guard: Guard) -> Any:
        return self.strategy.legs[guard.leg]

    def last_sent(self, orders: Sequence[OrderRecord]) -> datetime:
        return max(datetime.fromisoformat(o.sent_at or o.scheduled_at) for o in orders)

    def scope_exited(self, account_id: str) -> str | None:
        """The MTM exit reason covering ``account_id``, if its scope was exited."""
        exited = (self.book.mtm or {}).get("exited") or {}
        found = exited.get("ALL") or exited.get(account_id)
        return None if found is None else str(found["reason"])

    def after_exit_time(self) -> bool:
        return self.now.time() >= time.fromisoformat(self.book.exit_time)

    def exit_at(self) -> datetime:
        """Today's exit time of the strategy, as an instant in the monitor's zone."""
        return datetime.combine(
            self.now.date(), time.fromisoformat(self.book.exit_time), tzinfo=self.now.tzinfo
        )

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
    ) -> list[OrderRecord] | None:
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


def average_fill(orders: Iterable[OrderRecord]) -> Decimal | None:
    """The average price of what the orders filled, to the paisa (None: nothing filled)."""
    units, value = 0, Decimal(0)
    for order in orders:
        filled = int(order.filled_quantity or 0)
        if filled and order.average_price is not None:
            units += filled
            value += Decimal(order.average_price) * filled
    return None if not units else (value / units).quantize(Decimal("0.01"))


def as_text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def past_takeover(book: RiskBookRecord, now: datetime) -> bool:
    """The monitor closes what the exit at T left (``EXIT_TAKEOVER``)."""
    local = now.astimezone(IST)
    exit_at = datetime.combine(local.date(), time.fromisoformat(book.exit_time), tzinfo=IST)
    return local >= exit_at + EXIT_TAKEOVER
