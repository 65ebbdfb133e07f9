"""Orphaned risk intents: stored BUILT (with their tag) by an actor that died before writing
them into the risk book, so no guard names them and no monitor looks at them.

A restarted monitor sweeps a book's orphans the first time it sees the book (``sweep_book``) and
the recovery sweep the day's (``resolve``). Past ``risk_intents.GRACE`` each is looked up by
tag at the broker (``Intents.settle_orphan``): absent (the only outcome the send's order allows:
nothing is sent before its claim), it is abandoned (FAILED ``never_sent``) and the guard, which
never knew of it, decides afresh; present, it is adopted into its guard (``adopt``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from chalicelib.domain.calendar import IST
from chalicelib.domain.records import OrderRecord, RiskBookRecord
from chalicelib.domain.strategy import ExitReason
from chalicelib.services.guards import ARMED, CLOSED, DONE, EXITING, REENTERING, WAITING
from chalicelib.services.risk_intents import FIELD_OF_PHASE, orphans

if TYPE_CHECKING:
    from chalicelib.services.risk_engine import RiskEngine


def sweep_book(engine: RiskEngine, book: RiskBookRecord, now: datetime) -> bool:
    """A book's orphans, the first time this engine (a restarted monitor) sees it; young ones
    keep the book unswept (looked at again next cycle). True: one was adopted."""
    listed = engine.orders.orders_of_execution(book.uid, book.execution)
    found = [o for o in listed if o.status == "BUILT" and o.phase in FIELD_OF_PHASE]
    outcomes = resolve(engine, book.uid, found, now) if found else {}
    if not outcomes.get("young") and not outcomes.get("unknown"):
        engine._swept.add(book.sk)
    return bool(outcomes.get("found"))


def resolve(
    engine: RiskEngine, uid: str, orders: Sequence[OrderRecord], now: datetime
) -> dict[str, int]:
    """Risk intents stored BUILT and named by no guard of their book (read consistently):
    abandoned when the broker has no order with their tag, adopted when it has. Returns the
    count per outcome (``Intents.settle_orphan``)."""
    outcomes: dict[str, int] = {}
    groups: dict[tuple[str, str], list[OrderRecord]] = {}
    for order in orders:
        day = datetime.fromisoformat(order.scheduled_at).astimezone(IST).date().isoformat()
        groups.setdefault((day, order.strategy_id), []).append(order)
    for (day, strategy_id), group in groups.items():
        book = engine.books.get(uid, day, strategy_id)
        for order in [] if book is None else orphans(book, group):
            adapter = engine.adapter(uid, order.account_id)
            outcome = engine.intents.settle_orphan(adapter, order, now)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            if outcome == "found" and book is not None:
                book = adopt(engine, book, order)
    return outcomes


def adopt(engine: RiskEngine, book: RiskBookRecord, order: OrderRecord) -> RiskBookRecord | None:
    """An orphan found at the broker (it cannot happen while every send follows its claim)
    joins its (account, leg)'s latest guard. A stop or close nobody decided on exits the leg:
    an ARMED guard goes EXITING, so its stops (this one too) are cancelled and only what they
    did not fill is closed; a re-entry makes its guard REENTERING, so what it fills is guarded
    (or closed, after T). An urgent alert says it happened."""
    for _attempt in range(5):
        slot = [d for d in book.guards if d["account_id"] == order.account_id
                and int(d["leg"]) == int(order.request["leg"])]  # fmt: skip
        if not slot:
            break
        doc = slot[-1]
        name = FIELD_OF_PHASE[order.phase]
        doc[name] = [*(doc.get(name) or []), order.order_id]
        if doc["state"] == ARMED and name != "reentry_orders":
            doc["state"], doc["reason"] = EXITING, ExitReason.STOP_LOSS.value
        elif doc["state"] in (WAITING, CLOSED, DONE) and name == "reentry_orders":
            doc["state"] = REENTERING  # its fills become the next cycle's guard
        if engine.books.save(book):
            break
        fresh = engine.books.get(book.uid, book.trade_date, book.strategy_id)
        if fresh is None:
            return None
        book = fresh
    engine.record_event(book.uid, book.execution, {
        "kind": "alert", "code": "orphan_adopted", "urgent": True, "order": order.order_id,
        "tag": order.tag, "account_id": order.account_id, "status": order.status,
        "message": "a risk order no guard named was found at the broker; it is settled and "
        "its leg exits (or re-enters)"})  # fmt: skip
    return book
