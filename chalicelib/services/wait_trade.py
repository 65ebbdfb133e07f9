"""Wait and trade in the risk monitor: legs that enter only once their premium has moved.

The planner sends no order for a waiting leg. The day's risk book carries one PENDING guard per
waiting (account, leg) instead (``pending_guards``, written when the book is armed: after the
other legs settle, or at planning when every leg waits). From the entry time on, each monitor
pass:

1. resolves the leg's strike the way the planner would (``OrderBuilder.resolve`` through an
   account that quotes the index, as RE_EXECUTE does) and takes the contract's premium then as
   the *reference*, with the trigger it implies (``domain.wait_and_trade``);
2. enters once the premium reaches the trigger, through the re-entry send path: the orders are
   intents written into the guard in the book's claim before they are sent (a restarted monitor
   finds them by tag, never sends twice), under the close lease, refused while a kill switch
   covers the strategy or account; the guard is then REENTERING and the leg's guard (its stop at
   the broker) is born from the fills like any re-entry's;
3. at the deadline (``until``, and never later than 90 s before the exit, when the exit is
   planned) the leg is skipped and the strategy's ``on_leg_failure`` decides: UNWIND closes
   everything the strategy holds through the strategy-exit path (every guard exits, its stop
   cancelled first; positions without a guard get exit-only guards) and skips the other waiting
   legs; KEEP records it, alerts and keeps the rest.

Nothing waits past an MTM / underlying exit, a kill switch's freeze or the exit at T: those end
the PENDING guards (a freeze marks every guard DONE).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from chalicelib.domain.market_errors import MarketRuleError
from chalicelib.domain.risk_book import LIVE
from chalicelib.domain.sizing import units_for
from chalicelib.domain.strategy import ExitReason, OnLegFailure, Strategy
from chalicelib.domain.wait_and_trade import BEFORE_EXIT, WaitAndTrade, reached, trigger_price
from chalicelib.errors import DomainError
from chalicelib.services.guards import DONE, Guard
from chalicelib.services.re_execute import re_executed
from chalicelib.services.risk_step_core import as_text

if TYPE_CHECKING:
    from chalicelib.services.risk_step import BookStep

PENDING = "PENDING"


def pending_guards(strategy: Strategy, existing: set[str] | None = None) -> list[dict[str, Any]]:
    """One PENDING guard per waiting (account, leg); its contract is resolved at the entry time."""
    docs = []
    for index, leg in enumerate(strategy.legs):
        rule = leg.wait_and_trade
        if rule is None:
            continue
        for allocation in strategy.allocations_of(leg):
            guard_id = f"{allocation.account_id}:{index}:0"
            if existing and guard_id in existing:
                continue
            docs.append({
                "id": guard_id, "account_id": allocation.account_id, "leg": index, "cycle": 0,
                "side": leg.side.value, "contract": {}, "symbol": "", "quantity": 0,
                "entered": 0, "entry_price": "0", "stop": None, "initial_stop": None,
                "target": None, "best": "0", "stop_unit": "POINTS", "stop_orders": [],
                "broker_stop": None, "modifications": 0, "replacements": 0,
                "software_stop": False, "cost_moved": False, "state": PENDING, "reason": None,
                "exit_price": None, "exit_orders": [], "exit_attempts": 0, "re_entries": 0,
                "wait": rule.to_document(), "multiplier": str(allocation.multiplier),
                "reference": None, "wait_trigger": None,
            })  # fmt: skip
    return docs


def resolved(guard: Guard) -> bool:
    return guard.state == PENDING and guard.doc.get("reference") is not None


def waits(doc: dict[str, Any]) -> bool:
    """A guard that entered (or is entering) a waiting leg, not a re-entry."""
    return doc.get("wait") is not None and int(doc.get("cycle", 0)) == 0


def watch_pending(step: BookStep) -> None:
    """One pass over the book's PENDING guards (after the other guards were advanced)."""
    for doc in list(step.book.guards):
        if doc["state"] == PENDING and not step.lost:
            _pending(step, Guard(doc))


def _pending(step: BookStep, guard: Guard) -> None:
    strategy, now = step.strategy, step.now
    rule = WaitAndTrade.of_document(guard.doc["wait"])
    assert rule is not None
    if now.time() < strategy.entry_time:
        return
    exited = step.scope_exited(guard.account_id)
    if exited or step.book.status != LIVE:
        guard.state, guard.doc["reason"] = DONE, exited or "FROZEN"
        step.dirty = True
        step.event("wait_and_trade_withdrawn", guard, why="the strategy was exited first")
        return
    deadline = min(datetime.combine(now.date(), rule.until, tzinfo=now.tzinfo),
                   step.exit_at() - BEFORE_EXIT)  # fmt: skip
    if now >= deadline:
        expire(step, guard, f"its premium did not move as set by {deadline:%H:%M:%S}")
        return
    if guard.doc.get("reference") is None:
        _take_reference(step, guard, rule)
        return
    ltp = step.ltp(guard)
    trigger = guard.price("wait_trigger")
    if ltp is None:
        step.alert("blind", guard, urgent=True, message="no price for a waiting leg: it cannot "
                   "enter until one is read")  # fmt: skip
        return
    if trigger is None or not reached(rule, trigger, ltp):
        return
    _enter(step, guard, ltp)


def _take_reference(step: BookStep, guard: Guard, rule: WaitAndTrade) -> None:
    """The leg's strike resolved now, its premium the reference (retried next pass if not)."""
    if not guard.doc.get("contract"):  # what the order needs beside the strike
        try:
            broker = step.engine.repo.get_account(step.book.uid, guard.account_id).broker
        except DomainError as error:
            step.alert("wait_and_trade_unresolved", guard, message=str(error))
            return
        guard.doc["contract"] = {"product": step.strategy.product.value, "broker": broker}
    found = re_executed(step, guard, code="wait_and_trade_unresolved", rule="wait and trade")
    if found is None:
        return
    target, ltp = found
    contract = target.doc["contract"]
    leg = step.strategy.legs[guard.leg]
    try:
        units = units_for(leg.lots, Decimal(str(guard.doc["multiplier"])),
                          int(contract["lot_size"]))  # fmt: skip
    except MarketRuleError as error:
        step.alert("wait_and_trade_unresolved", guard, message=str(error))
        return
    trigger = trigger_price(rule, ltp, Decimal(str(contract["tick_size"])))
    guard.doc.update(contract=contract, symbol=target.symbol, quantity=units, entered=0,
                     reference=str(ltp), wait_trigger=None if trigger is None else str(trigger),
                     entry_price=str(ltp), best=str(ltp))  # fmt: skip
    step.dirty = True
    step.event("wait_and_trade_reference", guard, price=str(ltp), trigger=as_text(trigger),
               direction=rule.direction.value, type=rule.unit.value, value=str(rule.value),
               until=rule.until.isoformat())  # fmt: skip


def _enter(step: BookStep, guard: Guard, ltp: Decimal) -> None:
    engine, book = step.engine, step.book
    adapter = engine.adapter(book.uid, guard.account_id)
    if adapter is None:
        step.alert("wait_and_trade_blocked", guard, urgent=True, message="the premium moved "
                   "but there is no broker session to enter with")  # fmt: skip
        return
    block = engine.entry_block
    refused = block(book.uid, book.strategy_id, guard.account_id) if block else None
    if refused is not None:
        guard.state, guard.doc["reason"] = DONE, "KILL_SWITCH"
        step.dirty = True
        step.event("wait_and_trade_refused", guard, why=refused)
        return
    if not step.may_act(guard.account_id):
        return  # a kill switch or the exit is closing this pair: decide again next pass
    step.enter_leg(guard, guard, adapter, ltp, back_to=PENDING, announce=lambda orders: step.event(
        "wait_and_trade_reached", guard, price=str(ltp), reference=guard.doc["reference"],
        trigger=guard.doc["wait_trigger"], orders=orders,
    ))  # fmt: skip


def expire(step: BookStep, guard: Guard, why: str) -> None:
    """The leg is skipped; the strategy's leg-failure policy decides the rest."""
    policy = step.strategy.risk.on_leg_failure
    guard.state, guard.doc["reason"] = DONE, ExitReason.LEG_SKIPPED.value
    step.dirty = True
    step.event("wait_and_trade_skipped", guard, message=why, policy=policy.value)
    if policy is OnLegFailure.KEEP:
        step.alert("wait_and_trade_expired", guard, urgent=True, policy=policy.value,
                   message=f"a waiting leg was skipped ({why}); the other legs are kept")  # fmt: skip
        return
    marks = step.book.mtm or {"peak": {}, "exited": {}}
    if "ALL" in marks["exited"]:
        return
    positions = step.engine.orders.positions(step.book.uid, step.book.strategy_id, consistent=True)
    marks["exited"]["ALL"] = {"reason": ExitReason.LEG_SKIPPED.value, "leg": guard.leg,
                              "at": step.now.isoformat()}  # fmt: skip
    step.exit_scope(None, ExitReason.LEG_SKIPPED, positions)
    step.book.mtm = marks
    step.dirty = True
    if not step.claim():
        return
    step.event("wait_and_trade_unwind", guard, policy=policy.value, reason=ExitReason.LEG_SKIPPED.value,
               why=f"a waiting leg was skipped ({why}): the strategy's legs are closed")  # fmt: skip
