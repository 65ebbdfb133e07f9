"""Freezing a risk book: the exit at T and a kill switch take the book's guards from the monitor.

The book is frozen first (every guard of the scope DONE, in the book's versioned write), so the
monitor stops acting; then the risk orders still open are cancelled and settled. A risk order
whose cancel the broker does not confirm may still fill: at the exit its guard is handed back to
the monitor (EXITING: it waits for the cancel, then closes only what is left) and the exit leaves
those units alone (``held_back``). A kill switch squares off everything itself, so there the
cancel is only retried.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime

from chalicelib.domain.records import OrderRecord, RiskBookRecord
from chalicelib.domain.risk_book import DONE as BOOK_DONE
from chalicelib.domain.risk_book import LIVE
from chalicelib.domain.strategy import ExitReason
from chalicelib.ports.broker import Broker
from chalicelib.ports.risk import RiskBookStore, RiskOrderStore
from chalicelib.services.guards import (
    CLOSED,
    DONE,
    EXITING,
    ORDER_FIELDS,
    REENTERING,
    RISK_PHASES,
    Guard,
)
from chalicelib.services.order_sender import stamp
from chalicelib.services.risk_desk import OrderDesk
from chalicelib.services.risk_intents import in_flight
from chalicelib.services.settlement import TERMINAL

log = logging.getLogger(__name__)


class Freezing:
    """The engine's freezing operations (``RiskEngine`` mixes them in)."""

    books: RiskBookStore
    orders: RiskOrderStore
    settlement: OrderDesk
    clock: Callable[[], datetime]

    #: The engine's own: an account's adapter or None, and its short-backoff settle.
    adapter: Callable[[str, str], Broker | None]
    _reconcile: Callable[[str, Sequence[OrderRecord]], bool]

    def freeze(
        self,
        uid: str,
        trade_date: str,
        strategy_id: str,
        reason: ExitReason,
        account_id: str | None,
    ) -> RiskBookRecord | None:
        """Stop the monitor acting on a book (or one account's guards) and cancel its risk
        orders; returns the book (None when the strategy has none today)."""
        for _attempt in range(5):
            book = self.books.get(uid, trade_date, strategy_id)
            if book is None:
                return None
            changed = False
            for doc in book.guards:
                if doc["state"] != DONE and account_id in (None, doc["account_id"]):
                    doc["frozen_from"] = doc["state"]
                    doc["state"], doc["reason"] = DONE, doc.get("reason") or reason.value
                    changed = True
            if account_id is None and book.status != BOOK_DONE:
                book.status, changed = BOOK_DONE, True
            if not changed or self.books.save(book):
                break
        else:
            log.warning("could not freeze a risk book", extra={"user": uid, "book": strategy_id})
            return None
        unconfirmed = self.cancel_risk_orders(uid, book.execution, account_id, book)
        if unconfirmed:  # a failed cancel (a 500) is asked again before anything is closed
            self._cancel_and_poll(uid, unconfirmed)
            unconfirmed = [o for o in unconfirmed if o.status not in TERMINAL]
        if unconfirmed and reason is ExitReason.EXIT_TIME:
            # The exit (freeze_for_exit) closes around what the monitor keeps. A kill switch
            # squares off every position itself, so there the stop's cancel is only retried.
            self._hand_back(book, unconfirmed, reason)
        return book

    def _hand_back(
        self, book: RiskBookRecord, unconfirmed: Sequence[OrderRecord], reason: ExitReason
    ) -> None:
        """Risk orders the broker has not confirmed ended may still fill: their guards stay
        with the monitor (EXITING: it waits for the cancel, then closes only what is left), and
        whoever closes for the freeze leaves those units alone (``held_back``)."""
        ids = {o.order_id for o in unconfirmed}
        for _attempt in range(5):
            for doc in book.guards:
                if ids & {i for name in ORDER_FIELDS for i in doc.get(name) or []}:
                    doc["reason"] = reason.value
                    reentering = doc.get("frozen_from") == REENTERING
                    doc["state"] = REENTERING if reentering else EXITING
            book.status = LIVE
            if self.books.save(book):
                log.warning("risk orders not confirmed cancelled; the monitor finishes them",
                            extra={"user": book.uid, "book": book.sk, "orders": sorted(ids)})  # fmt: skip
                return
            fresh = self.books.get(book.uid, book.trade_date, book.strategy_id)
            if fresh is None:
                return
            book = fresh
        log.error("could not hand risk orders back to the monitor", extra={"book": book.sk})

    def held_back(self, book: RiskBookRecord, account_id: str | None) -> dict[str, int]:
        """Signed units per symbol that guards still being finished by the monitor hold, as
        the positions show them (fills of orders that ended are in the positions already)."""
        guards = [
            Guard(doc)
            for doc in book.guards
            if doc["state"] in (EXITING, CLOSED) and account_id in (None, doc["account_id"])
        ]
        ids = [i for g in guards for name in ("stop_orders", "exit_orders") for i in g.ids(name)]
        orders = {o.order_id: o for o in self.orders.orders(
            book.uid, book.trade_date, ids)}  # fmt: skip
        held: dict[str, int] = {}
        for guard in guards:
            ended = [orders[i] for name in ("stop_orders", "exit_orders")
                     for i in guard.ids(name) if i in orders and orders[i].status in TERMINAL]  # fmt: skip
            units = guard.quantity - sum(int(o.filled_quantity or 0) for o in ended)
            sign = -1 if guard.side == "SELL" else 1
            held[guard.symbol] = held.get(guard.symbol, 0) + sign * max(units, 0)
        return held

    def cancel_risk_orders(
        self,
        uid: str,
        execution_sk: str,
        account_id: str | None,
        book: RiskBookRecord | None = None,
    ) -> list[OrderRecord]:
        """Cancel and settle every open stop, risk-exit and re-entry order of the entry; returns
        those the broker has not confirmed ended. Intents nobody sent yet are abandoned (so no
        live actor sends them after the freeze); sent ones without an ack are found by tag."""
        executions = self.orders
        found = {o.order_id: o for o in executions.orders_of_execution(uid, execution_sk)}
        if book is not None:  # the book names its orders; read them consistently
            ids = [i for doc in book.guards for name in ORDER_FIELDS for i in doc.get(name) or []]
            found.update({o.order_id: o for o in executions.orders(uid, book.trade_date, ids)})
        entries = set() if book is None else {
            i for doc in book.guards for i in doc.get("entry_orders") or []
        }  # fmt: skip
        open_ = [
            o
            for o in found.values()
            if (o.phase in RISK_PHASES or o.order_id in entries)  # an entry's resting remainder
            and o.status not in TERMINAL
            and account_id in (None, o.account_id)
        ]
        now = self.clock()
        for order in open_:
            if order.status == "BUILT":
                self.orders.abandon_intent(order, "not sent: the risk book was frozen", stamp(now))
            if in_flight(order):
                adapter = self.adapter(uid, order.account_id)
                if adapter is not None:
                    self.settlement.poll(adapter, order)
        open_ = [o for o in open_ if o.status not in TERMINAL]
        if open_:
            self._cancel_and_poll(uid, open_)
        return [o for o in open_ if o.status not in TERMINAL]

    def _cancel_and_poll(self, uid: str, orders: Sequence[OrderRecord]) -> None:
        """Ask for the cancels and wait (briefly) for those asked; the others are read once (a
        cancel refused because the order just filled must see the fill)."""
        asked = self.settlement.cancel_open(uid, orders)
        if asked:
            self._reconcile(uid, asked)
        for order in orders:
            if order not in asked and order.status not in TERMINAL and order.broker_order_id:
                adapter = self.adapter(uid, order.account_id)
                if adapter is not None:
                    self.settlement.poll(adapter, order)

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
            kept = self.held_back(book, account_id)
            held[strategy_id] = {
                p.symbol: int(p.net_quantity) - kept.get(p.symbol, 0)
                for p in self.orders.positions(uid, strategy_id, consistent=True)
                if p.account_id == account_id
            }
        return held
