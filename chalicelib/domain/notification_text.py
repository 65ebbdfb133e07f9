"""The words of a notification: one plain-text message per event, and bursts merged into one.

Plain text (no parse_mode): broker symbols and reasons contain characters Markdown would need
escaped, and a message that fails to parse is a message the trader never gets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from chalicelib.domain.notifications import EventKind, NotificationEvent

#: Telegram's limit on one message's text, in characters.
MESSAGE_LIMIT = 4096

TITLES: Mapping[EventKind, str] = {
    EventKind.ENTRY_DONE: "Entry done",
    EventKind.EXIT_DONE: "Exit done",
    EventKind.ORDER_REJECTED: "Order rejected",
    EventKind.LEG_FAILURE: "Leg failed after other legs filled",
    EventKind.UNWIND: "Entry unwound",
    EventKind.STOP_PLACED: "Stop-loss placed",
    EventKind.STOP_HIT: "Stop-loss hit",
    EventKind.STOP_TRAILED: "Stop-loss trailed",
    EventKind.STOP_TO_COST: "Stop-loss moved to cost",
    EventKind.TARGET_HIT: "Target hit",
    EventKind.MTM_EXIT: "MTM exit",
    EventKind.POSITION_CLOSED: "Position closed",
    EventKind.RE_ENTRY: "Re-entered",
    EventKind.WAIT_AND_TRADE_ENTRY: "Waiting leg entered (its premium moved)",
    EventKind.STOP_NOT_PLACED: "Stop-loss NOT placed",
    EventKind.RISK_ALERT: "Risk alert",
    EventKind.ORDER_UNKNOWN: "Order outcome unknown: check the order at your broker",
    EventKind.ENTRY_MISSED: "Entry not sent: too late after its time",
    EventKind.ACCOUNT_NOT_READY: "Broker account not ready for today",
    EventKind.DAY_REPORT: "Day report",
    EventKind.KILL_SWITCH_ENGAGED: "Kill switch engaged",
    EventKind.KILL_SWITCH_DONE: "Kill switch: square-off finished",
    EventKind.SESSION_EXPIRING: "Broker session about to expire: log in again",
    EventKind.ENGINE_MISSING: "Engine missing: a scheduled tick did not fire",
    EventKind.DAY_LIMIT_REACHED: "Day limit reached: account squared off for the day",
    EventKind.MARGIN_INSUFFICIENT: "Entry skipped: not enough margin",
    EventKind.MARGIN_UNCHECKED: "Margin could not be checked: entry sent unchecked",
}
#: Scalar fields shown, in this order, with their labels.
LINES: tuple[tuple[str, str], ...] = (
    ("scope", "Scope"),
    ("strategy", "Strategy"),
    ("account", "Account"),
    ("symbol", "Symbol"),
    ("status", "Status"),
    ("policy", "Policy"),
    ("reason", "Reason"),
    ("price", "Price"),
    ("trigger", "Trigger"),
    ("stop_from", "Stop from"),
    ("stop_to", "Stop to"),
    ("mtm", "MTM"),
    ("required", "Margin required"),
    ("available", "Margin available"),
    ("broker", "Broker"),
    ("phase", "Phase"),
    ("scheduled", "Scheduled"),
    ("expires", "Expires"),
    ("action", "Action"),
    ("login", "Log in"),
    ("message", "Detail"),
    ("trade_date", "Date"),
)


def order_line(order: Mapping[str, Any]) -> str:
    """``SELL 75 NIFTY 24500 CE: COMPLETE 75 @ 101.35 (T+12 ms)`` or the broker's reason."""
    text = f"{order.get('side', '?')} {order.get('quantity', '?')} {order.get('symbol', '?')}"
    text += f": {order.get('status', '?')}"
    if order.get("filled"):
        text += f" {order['filled']} @ {order.get('average_price') or '?'}"
    if order.get("latency_ms") is not None:
        text += f" (T+{order['latency_ms']} ms)"
    if order.get("reason"):
        text += f" - {order['reason']}"
    return text


def render(event: NotificationEvent) -> str:
    head = TITLES[event.kind]
    lines = [f"URGENT: {head}" if event.urgent else head]
    for name, label in LINES:
        value = event.fields.get(name)
        if value not in (None, "", []):
            lines.append(f"{label}: {value}")
    orders: Sequence[Mapping[str, Any]] = event.fields.get("orders") or []
    lines.extend(f"- {order_line(o)}" for o in orders)
    lines.extend(str(line) for line in event.fields.get("lines") or [])
    lines.append(event.occurred_at.strftime("%H:%M:%S IST"))
    return _clip("\n".join(lines))


def burst(texts: Sequence[str], limit: int = MESSAGE_LIMIT) -> tuple[str, int]:
    """The one message a burst becomes: as many texts (in order, at least one) as fit ``limit``,
    and how many it took; the rest wait for the chat's next turn."""
    if not texts:
        raise ValueError("an empty burst")
    taken = [_clip(texts[0], limit - 40)]
    for text in texts[1:]:
        candidate = [*taken, _clip(text, limit - 40)]
        if len(_joined(candidate)) > limit:
            break
        taken = candidate
    return _joined(taken), len(taken)


def _joined(texts: Sequence[str]) -> str:
    if len(texts) == 1:
        return texts[0]
    return f"{len(texts)} updates\n\n" + "\n\n".join(texts)


def _clip(text: str, limit: int = MESSAGE_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"
