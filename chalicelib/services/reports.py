"""Reports of the caller's trading: executions with their orders and risk books, orders of a day,
positions and the day's P&L.

The API only parses the request and renders these; what is counted, priced and shown is decided
here. Positions are valued at their average prices (``domain.day_limits.leg_pnl``, the same
arithmetic as the day limits): the units both bought and sold are realised, the open units are
marked at the last price of the user's quote source (``Reports.quotes_of``: the simulated
exchange's through a paper account, else the labelled default source). An open position without
a price is reported unpriced, never valued at zero.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from chalicelib.domain.calendar import IST, default_calendar
from chalicelib.domain.day_limits import Leg, leg_pnl
from chalicelib.domain.market_errors import MarketRuleError
from chalicelib.domain.records import ExecutionRecord, OrderRecord, PositionRecord, RiskBookRecord
from chalicelib.ports.reports import ReportStore, RiskBooks
from chalicelib.services.clock import Clock
from chalicelib.services.closing import contract_key
from chalicelib.services.quotes import QuoteSource

PAISA = Decimal("0.01")
#: The events of an execution that tell the story of its risk book (``GET /risk``).
RISK_EVENT_KINDS = frozenset({
    "risk_armed", "stop_placed", "stop_loss", "target", "trail", "move_to_cost", "closed",
    "stop_order_lost", "alert", "mtm_exit", "re_entry_waiting", "re_entered", "re_entry_expired",
    "re_entry_refused", "re_entry_not_sent", "underlying_reference", "underlying_exit",
    "wait_and_trade_reference", "wait_and_trade_reached", "wait_and_trade_entered",
    "wait_and_trade_skipped", "wait_and_trade_refused", "wait_and_trade_unwind",
    "wait_and_trade_withdrawn",
    "exit_time", "exit_time_takeover",
})  # fmt: skip


@dataclass(frozen=True)
class ExecutionReport:
    execution: ExecutionRecord
    events: list[dict[str, Any]]
    orders: list[OrderRecord]  # in the order they were scheduled and sent
    risk_book: RiskBookRecord | None = None
    has_risk: bool = False  # entries have a risk book (or not yet); other phases none


@dataclass(frozen=True)
class RiskReport:
    book: RiskBookRecord
    execution_sk: str
    events: list[dict[str, Any]]  # the risk events of the book's entry only


@dataclass(frozen=True)
class PositionReport:
    """One position valued: averages of each side, realised P&L, and the open units at ``ltp``
    (``unrealised`` None: open and unpriced). P&L is in paise, so totals add what is shown."""

    position: PositionRecord
    buy_average: Decimal | None
    sell_average: Decimal | None
    ltp: Decimal | None
    realised: Decimal
    unrealised: Decimal | None


@dataclass(frozen=True)
class PnlReport:
    date: str
    realised: Decimal
    unrealised: Decimal  # of the priced positions only
    unpriced: list[str]  # symbols of open positions without a price
    source: QuoteSource  # where the prices came from (its name, whether live, its note)
    positions: list[PositionReport]

    @property
    def total(self) -> Decimal:
        return self.realised + self.unrealised


def value_position(position: PositionRecord, ltp: Decimal | None = None) -> PositionReport:
    buy_q, sell_q = int(position.buy_quantity), int(position.sell_quantity)
    buy_v, sell_v = Decimal(position.buy_value), Decimal(position.sell_value)
    leg = Leg(buy_q, sell_q, buy_v, sell_v, int(position.net_quantity))
    realised, unrealised = leg_pnl(leg, ltp)
    return PositionReport(
        position=position,
        buy_average=buy_v / buy_q if buy_q else None,
        sell_average=sell_v / sell_q if sell_q else None,
        ltp=ltp,
        realised=paise(realised),
        unrealised=None if unrealised is None else paise(unrealised),
    )


def paise(value: Decimal) -> Decimal:
    """Rupees rounded to the paisa (half to even, as every P&L figure is shown)."""
    return value.quantize(PAISA)


@dataclass
class Reports:
    store: ReportStore
    books: RiskBooks
    clock: Clock
    quotes_of: Callable[[str], QuoteSource]

    def today(self) -> str:
        """The trading date a report defaults to: today in IST."""
        return self.clock().astimezone(IST).date().isoformat()

    # -- executions and orders -----------------------------------------------------------------
    def executions(self, uid: str, day: str) -> list[tuple[ExecutionRecord, list[dict[str, Any]]]]:
        """The user's executions of a trading date, each with its events."""
        return [(e, self.books.events(e)) for e in self.store.executions_on(uid, day)]

    def execution(self, uid: str, sk: str) -> ExecutionReport:
        """One execution with its orders and, for an entry, its risk book (``NotFound``)."""
        item = self.store.get_execution(uid, sk)
        orders = self.store.orders_of_execution(uid, sk)
        orders.sort(key=lambda o: (o.scheduled_at, o.sent_at or "", o.order_id))
        events = self.books.events(item)
        if item.phase != "ENTRY":
            return ExecutionReport(item, events, orders)
        book = self.books.get(uid, item.trade_date, item.strategy_id)
        return ExecutionReport(item, events, orders, risk_book=book, has_risk=True)

    def risk(self, uid: str, day: str) -> list[RiskReport]:
        """The day's risk books, each with the risk events of its entry."""
        found = []
        for book in self.books.of_user(uid, day):
            execution = self.store.get_execution(uid, book.execution)
            events = [e for e in self.books.events(execution) if e.get("kind") in RISK_EVENT_KINDS]
            found.append(RiskReport(book, book.execution, events))
        return found

    def orders(self, uid: str, day: str, status: str | None = None) -> list[OrderRecord]:
        """The user's orders of a date, optionally only those in ``status``."""
        items = self.store.orders_on(uid, day)
        return [o for o in items if o.status == status] if status else items

    # -- positions and P&L ---------------------------------------------------------------------
    def positions(self, uid: str, strategy_id: str | None = None) -> list[PositionReport]:
        """Every position of the user (or of one strategy) from settled fills, not priced."""
        return [value_position(p) for p in self.store.positions(uid, strategy_id)]

    def pnl(self, uid: str, day: str) -> PnlReport:
        """Realised and unrealised P&L of the positions that changed on ``day``."""
        now = self.clock()
        quotes = self.quotes_of(uid)
        traded = [p for p in self.store.positions(uid) if (p.updated_at or "").startswith(day)]
        valued = [
            value_position(p, _ltp(quotes, p, now) if p.net_quantity else None) for p in traded
        ]
        return PnlReport(
            date=day,
            realised=sum((v.realised for v in valued), Decimal(0)),
            unrealised=sum((v.unrealised for v in valued if v.unrealised is not None), Decimal(0)),
            unpriced=[v.position.symbol for v in valued if v.unrealised is None],
            source=quotes,
            positions=valued,
        )


def _ltp(quotes: QuoteSource, position: PositionRecord, at: datetime) -> Decimal | None:
    """The contract's last price from ``quotes``; None once expired or when it has none."""
    try:
        key = contract_key(position.contract)
        close = default_calendar().fo_session_bounds(key.expiry)[1]
        expiry_time = datetime.combine(key.expiry, close, tzinfo=IST)
        if expiry_time <= at:
            return None
        chain = quotes.chain(key.underlying, (key.strike,), at, expiry_time)
        return chain.premium(key.strike, key.option_type)
    except (MarketRuleError, KeyError, ValueError):
        return None
