"""From what the platform recorded to what the trader is told.

Settlement and the risk engine record their decisions as events on the execution item
(``ExecutionRepository.add_event``); the readiness job publishes its summary through the alert
publisher. These functions turn those records into notification events, reading the orders,
strategy name and account label they need. They run on the notification worker, never on the
hot path. Each event's idempotency key is built from the record itself (without its timestamp),
so a settlement or monitor pass that records the same fact again is not told twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from chalicelib.domain import day_report
from chalicelib.domain.notifications import (
    EventKind,
    NotificationEvent,
    Urgency,
    idempotency_key,
    mask_client_id,
)
from chalicelib.errors import DomainError

#: Risk-engine and settlement event kinds -> notification kinds ("alert" is decided by code).
KINDS: Mapping[str, EventKind] = {
    "unwind": EventKind.UNWIND,
    "stop_placed": EventKind.STOP_PLACED,
    "stop_loss": EventKind.STOP_HIT,
    "trail": EventKind.STOP_TRAILED,
    "move_to_cost": EventKind.STOP_TO_COST,
    "target": EventKind.TARGET_HIT,
    "mtm_exit": EventKind.MTM_EXIT,
    "underlying_exit": EventKind.MTM_EXIT,  # a strategy exit too; its reason says which rule
    "closed": EventKind.POSITION_CLOSED,
    "re_entered": EventKind.RE_ENTRY,
    "wait_and_trade_entered": EventKind.WAIT_AND_TRADE_ENTRY,
    "wait_and_trade_skipped": EventKind.LEG_FAILURE,  # its policy and why are in the fields
    "wait_and_trade_unwind": EventKind.UNWIND,
    "stop_order_lost": EventKind.RISK_ALERT,
}
STOP_NOT_PLACED_CODES = frozenset(
    {"risk_not_armed", "stop_not_placed", "stop_order_refused", "stop_order_unplaceable"}
)
#: Alert codes with a kind of their own (the firer's; recovery's resolution follows them).
ALERT_KINDS: Mapping[str, EventKind] = {
    "order_outcome_unknown": EventKind.ORDER_UNKNOWN,
    "entry_missed": EventKind.ENTRY_MISSED,
}
FAILED = frozenset({"REJECTED", "CANCELLED", "FAILED"})
#: An order sent later than this after its scheduled time makes the entry / exit message urgent.
LATE_MS = 1000


@dataclass(frozen=True)
class ExecutionRef:
    """What the hook copies from the execution item when the event is recorded."""

    uid: str
    sk: str
    strategy_id: str
    phase: str
    trade_date: str


@dataclass
class Facts:
    """Read access the translation needs (the repositories, or fakes in unit tests)."""

    orders_of: Callable[[str, str], list[Any]]  # (uid, execution sk) -> OrderItem-like
    strategy_name: Callable[[str, str], str]
    account_label: Callable[[str, str], str]
    orders_on: Callable[[str, str], list[Any]] = lambda uid, day: []  # (uid, trade date)


def from_execution_event(
    facts: Facts, ref: ExecutionRef, event: Mapping[str, Any], now: datetime
) -> list[NotificationEvent]:
    kind = str(event.get("kind", ""))
    identity = {k: v for k, v in event.items() if k != "at"}
    key = idempotency_key(ref.uid, ref.sk, identity)
    base = {"strategy": _name(facts, ref), "trade_date": ref.trade_date}
    if event.get("account_id"):
        base["account"] = _label(facts, ref.uid, str(event["account_id"]))
    if kind == "settled":
        return _settled(facts, ref, event, now, key, base)
    if kind == "alert":
        code = str(event.get("code", ""))
        if code == "leg_failed":
            target = EventKind.LEG_FAILURE
        elif code in STOP_NOT_PLACED_CODES:
            target = EventKind.STOP_NOT_PLACED
        elif code in ALERT_KINDS:
            target = ALERT_KINDS[code]
        else:
            target = EventKind.RISK_ALERT
        fields = {**base, **_scalars(event), "reason": code.replace("_", " ")}
        return [NotificationEvent(ref.uid, target, key, now, fields)]
    target = KINDS.get(kind)
    if target is None:
        return []
    fields = {**base, **_scalars(event)}
    if kind == "unwind":
        ids = set(event.get("orders") or [])
        fields["orders"] = [
            _order_view(facts, ref.uid, o) for o in _orders(facts, ref) if o.order_id in ids
        ]
        fields["policy"] = "UNWIND"
    if kind == "closed":
        fields["orders"] = [
            {**o, "filled": o.get("quantity") if o.get("status") == "COMPLETE" else None}
            for o in event.get("orders") or []
            if isinstance(o, Mapping)
        ]
    return [NotificationEvent(ref.uid, target, key, now, fields)]


def from_readiness(
    summary: Mapping[str, Any], login_base: str, now: datetime
) -> list[NotificationEvent]:
    """One urgent event per account that cannot trade today (the 08:30 job's summary)."""
    events = []
    for row in summary.get("not_ready") or []:
        uid, account = str(row["uid"]), str(row["account_id"])
        fields = {
            "account": f"{row.get('label') or account} ({row.get('broker', '?')})",
            "action": row.get("action"),
            "login": f"{login_base.rstrip('/')}/accounts/{account}/login",
            "trade_date": summary.get("date"),
        }
        key = idempotency_key(uid, "readiness", summary.get("date"), account)
        events.append(NotificationEvent(uid, EventKind.ACCOUNT_NOT_READY, key, now, fields))
    return events


def from_kill_switch(
    facts: Facts, switch: Mapping[str, Any], stage: str, now: datetime
) -> list[NotificationEvent]:
    """``engaged``: entries refused in scope from now; ``done``: what the square-off did, and
    whether the scope is flat (every square-off order complete, nothing failed to send)."""
    uid, scope, target = str(switch["uid"]), str(switch["scope"]), str(switch["target"])
    key = idempotency_key(uid, "kill", scope, target, switch.get("engaged_at"), stage)
    shown = scope if scope == "all" else f"{scope} {_target(facts, uid, scope, target)}"
    fields: dict[str, Any] = {"scope": shown, "reason": switch.get("reason") or None}
    if stage == "engaged":
        return [NotificationEvent(uid, EventKind.KILL_SWITCH_ENGAGED, key, now, fields)]
    summary = switch.get("summary") or {}
    orders = [
        {"side": o.get("side"), "quantity": o.get("quantity"),
         "symbol": o.get("contract") or o.get("order_id"), "status": o.get("status"),
         "filled": o.get("filled_quantity") or None, "average_price": o.get("average_price"),
         "account": _label(facts, uid, str(o.get("account_id")))}
        for o in summary.get("square_off") or []
    ]  # fmt: skip
    errors = summary.get("errors") or []
    flat = not errors and all(o["status"] == "COMPLETE" for o in orders)
    if switch.get("status"):  # the operation's own verdict: FLAT only when a pass found it flat
        flat = switch["status"] == "FLAT"
        errors = [*errors, *(summary.get("blocked") or [])]
    fields.update(
        status="FLAT" if flat else "NOT FLAT: check the positions",
        orders=orders,
        message=f"{len(summary.get('cancelled') or [])} open order(s) cancelled"
        + (f"; {len(errors)} could not be squared off" if errors else ""),
    )
    urgency = Urgency.NORMAL if flat else Urgency.URGENT
    return [NotificationEvent(uid, EventKind.KILL_SWITCH_DONE, key, now, fields, urgency)]


def _target(facts: Facts, uid: str, scope: str, target: str) -> str:
    if scope == "account":
        return _label(facts, uid, target)
    return _name(facts, ExecutionRef(uid, "", target, "", ""))


def from_day_report(facts: Facts, uid: str, day: str, now: datetime) -> list[NotificationEvent]:
    """The user's day report (nothing when the user had no orders that day)."""
    orders = facts.orders_on(uid, day)
    if not orders:
        return []
    names: dict[str, str] = {}
    rows = day_report.build(_day_order(facts, uid, o, names) for o in orders)
    fields = {"trade_date": day, "lines": day_report.lines(rows)}
    key = idempotency_key(uid, "day_report", day)
    return [NotificationEvent(uid, EventKind.DAY_REPORT, key, now, fields)]


def _day_order(facts: Facts, uid: str, order: Any, names: dict[str, str]) -> day_report.DayOrder:
    request = order.request or {}
    if order.strategy_id not in names:
        ref = ExecutionRef(uid, "", order.strategy_id, "", "")
        names[order.strategy_id] = _name(facts, ref)
    limit = request.get("limit_price")
    return day_report.DayOrder(
        strategy=names[order.strategy_id],
        account=_label(facts, uid, order.account_id),
        phase=order.phase,
        side=str(request.get("side", "")),
        contract=" ".join(str(request.get(k, "")) for k in ("underlying", "expiry", "strike",
                                                             "option_type")),
        filled=int(order.filled_quantity or 0),
        average_price=None if order.average_price is None else Decimal(order.average_price),
        limit_price=None if limit is None else Decimal(str(limit)),
        status=order.status,
        scheduled_at=_instant(order.scheduled_at),
        sent_at=_instant(order.sent_at),
    )  # fmt: skip


def _instant(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


# -- settlement --------------------------------------------------------------------------------
def _settled(
    facts: Facts, ref: ExecutionRef, event: Mapping[str, Any], now: datetime, key: str,
    base: dict[str, Any],
) -> list[NotificationEvent]:  # fmt: skip
    if ref.phase not in ("ENTRY", "EXIT"):
        return []
    own = [o for o in _orders(facts, ref) if o.phase == ref.phase]
    views = [_order_view(facts, ref.uid, o) for o in own]
    kind = EventKind.ENTRY_DONE if ref.phase == "ENTRY" else EventKind.EXIT_DONE
    fields = {**base, "status": event.get("status"), "orders": views}
    late = max((v["latency_ms"] for v in views if v["latency_ms"] is not None), default=0)
    urgency = Urgency.NORMAL
    if late > LATE_MS:
        fields["message"] = f"engine late: an order left T+{late} ms after its time"
        urgency = Urgency.URGENT
    events = [NotificationEvent(ref.uid, kind, key, now, fields, urgency)]
    for order, view in zip(own, views, strict=True):
        if order.status in FAILED:
            rejected_key = idempotency_key(ref.uid, "order", order.order_id, order.status)
            fields = {**base, "account": view.get("account"), "symbol": view["symbol"],
                      "status": order.status, "reason": view.get("reason")}  # fmt: skip
            events.append(
                NotificationEvent(ref.uid, EventKind.ORDER_REJECTED, rejected_key, now, fields)
            )
    return events


def _orders(facts: Facts, ref: ExecutionRef) -> list[Any]:
    return list(facts.orders_of(ref.uid, ref.sk))


def _order_view(facts: Facts, uid: str, order: Any) -> dict[str, Any]:
    request = order.request or {}
    symbol = " ".join(
        str(request.get(k, "")) for k in ("underlying", "strike", "option_type", "expiry")
    ).strip()
    view: dict[str, Any] = {
        "account": _label(facts, uid, order.account_id),
        "side": request.get("side"),
        "quantity": request.get("quantity"),
        "symbol": symbol or order.tag,
        "status": order.status,
        "filled": order.filled_quantity or None,
        "average_price": order.average_price,
        "latency_ms": _latency_ms(order.scheduled_at, order.sent_at),
    }
    if order.status in FAILED:
        view["reason"] = _reason(order)
    return view


def _reason(order: Any) -> str | None:
    if order.error and order.error.get("message"):
        return str(order.error["message"])
    for entry in reversed(order.history or []):
        if entry.get("message"):
            return str(entry["message"])
    return None


def _latency_ms(scheduled: str | None, sent: str | None) -> int | None:
    if not scheduled or not sent:
        return None
    delta = datetime.fromisoformat(sent) - datetime.fromisoformat(scheduled)
    return round(delta.total_seconds() * 1000)


def _scalars(event: Mapping[str, Any]) -> dict[str, Any]:
    """The event's own text-safe scalars (prices, triggers, codes); ids and lists stay out."""
    shown = ("price", "trigger", "stop_from", "stop_to", "mtm", "reason", "message", "status",
             "symbol")  # fmt: skip
    return {k: event[k] for k in shown if isinstance(event.get(k), str | int | float)}


def _name(facts: Facts, ref: ExecutionRef) -> str:
    try:
        return facts.strategy_name(ref.uid, ref.strategy_id)
    except DomainError:
        return ref.strategy_id


def _label(facts: Facts, uid: str, account_id: str) -> str:
    try:
        return facts.account_label(uid, account_id)
    except DomainError:
        return account_id


def account_label(label: str, broker: str, client_id: str) -> str:
    """``Main (zerodha AB**34)``: the trader recognises it, the full client id never appears."""
    return f"{label} ({broker} {mask_client_id(client_id)})"
