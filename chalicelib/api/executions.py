"""Execution and results of the caller: executions, orders, positions, P&L, the kill switch.

Every read starts from the caller's partition, so another user's execution id simply is not
found (404). Execution ids are the execution item's sort key in URL-safe base64 (no padding).
"""

from __future__ import annotations

import base64
import binascii
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from chalice import Blueprint, Response

from chalicelib.api import responses as R
from chalicelib.api.routing import Request, json_response, route
from chalicelib.api.schemas import Strict
from chalicelib.domain import order_lifecycle
from chalicelib.domain.records import (
    ExecutionRecord,
    KillSwitchRecord,
    OrderRecord,
    RiskBookRecord,
)
from chalicelib.errors import NotFound, ValidationFailed
from chalicelib.services.reports import PositionReport

bp = Blueprint(__name__)
#: Every state of the order lifecycle (docs/order-lifecycle.md), SENDING (claimed) included.
ORDER_STATUSES = order_lifecycle.ALL


class KillSwitchIn(Strict):
    scope: Literal["all", "account", "strategy"]
    id: str | None = None
    reason: str = ""


# -- ids and parameters ----------------------------------------------------------------------
def execution_id(sk: str) -> str:
    return base64.urlsafe_b64encode(sk.encode()).decode().rstrip("=")


def execution_sk(value: str) -> str:
    try:
        sk = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise NotFound("execution not found") from None
    if not sk.startswith("EXEC#"):
        raise NotFound("execution not found")
    return sk


def trade_date(req: Request, today: str) -> str:
    """The ``date`` query parameter (YYYY-MM-DD), else ``today``."""
    raw = req.query.get("date")
    if not raw:
        return today
    try:
        return date.fromisoformat(raw).isoformat()
    except ValueError:
        raise ValidationFailed("date must be YYYY-MM-DD", field="date") from None


# -- views -----------------------------------------------------------------------------------
def execution_view(item: ExecutionRecord, events: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": execution_id(item.sk),
        "strategy_id": item.strategy_id,
        "phase": item.phase,
        "trade_date": item.trade_date,
        "slot": item.slot,
        "status": item.status,
        "summary": item.summary,
        "events": events,
        "created_at": item.created_at,
        "updated_at": item.updated_at,
    }


def fills_view(item: OrderRecord) -> list[dict[str, Any]]:
    """Each fill as it reached the position (``apply_fill``: the quantity a broker status added
    and its average price); an order settled before fills were recorded one by one (or filled
    but not yet applied) shows its whole fill as one."""
    applied = [
        {
            "id": fill.get("id"),
            "quantity": int(fill["quantity"]),
            "average_price": _price(Decimal(fill["value"]) / int(fill["quantity"])),
            "at": fill.get("at"),
        }
        for fill in item.fills or []
        if int(fill.get("quantity") or 0) > 0
    ]
    if applied or not item.filled_quantity:
        return applied
    whole = {"id": None, "quantity": int(item.filled_quantity), "at": None}
    return [{**whole, "average_price": _price(item.average_price)}]


def _price(value: Decimal | str | None) -> str | None:
    """A price in one spelling whatever the broker sent (``134.0``, ``134``, ``167.80`` are
    ``134``, ``134``, ``167.8``): at most four decimals, no trailing zeros. An order's average
    and its fills' averages then compare equal as strings."""
    if value is None or value == "":
        return None
    text = f"{Decimal(value).quantize(Decimal('0.0001')):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def order_view(item: OrderRecord) -> dict[str, Any]:
    request = item.request
    fills = fills_view(item)
    return {
        "id": item.order_id,
        "execution_id": execution_id(item.execution),
        "strategy_id": item.strategy_id,
        "phase": item.phase,
        "account_id": item.account_id,
        "broker": item.broker,
        "tag": item.tag,
        "side": request["side"],
        "contract": {k: request[k] for k in ("underlying", "expiry", "strike", "option_type")},
        "quantity": int(request["quantity"]),
        "limit_price": request["limit_price"],
        "product": request["product"],
        "status": item.status,
        "broker_order_id": item.broker_order_id,
        "filled_quantity": int(item.filled_quantity),
        "average_price": _price(item.average_price),
        "fills": fills,
        "scheduled_at": item.scheduled_at,
        "sent_at": item.sent_at,
        "acked_at": item.acked_at,
        "error": item.error,
        "history": item.history or [],
    }


def position_view(report: PositionReport) -> dict[str, Any]:
    item = report.position
    return {
        "strategy_id": item.strategy_id,
        "account_id": item.account_id,
        "symbol": item.symbol,
        "contract": item.contract,
        "net_quantity": int(item.net_quantity),
        "buy_quantity": int(item.buy_quantity),
        "sell_quantity": int(item.sell_quantity),
        "buy_value": _money(Decimal(item.buy_value)),
        "sell_value": _money(Decimal(item.sell_value)),
        "buy_average": None if report.buy_average is None else _money(report.buy_average),
        "sell_average": None if report.sell_average is None else _money(report.sell_average),
        "ltp": None if report.ltp is None else str(report.ltp),
        "realised": _money(report.realised),
        "unrealised": None if report.unrealised is None else _money(report.unrealised),
        "updated_at": item.updated_at,
    }


def kill_switch_view(item: KillSwitchRecord) -> dict[str, Any]:
    """The switch and its square-off operation: ENGAGING until a pass found the scope flat."""
    return {
        "operation_id": item.operation_id,
        "scope": item.scope,
        "id": None if item.scope == "all" else item.target,
        "reason": item.reason,
        "engaged_by": item.engaged_by,
        "engaged_at": item.engaged_at,
        "status": item.status,
        "attempts": int(item.attempts or 0),
        "next_attempt_at": item.next_attempt_at,
        "flat_at": item.flat_at,
        "summary": item.summary,
        "events": item.events or [],
    }


def _money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


# -- executions and orders -------------------------------------------------------------------
@route(bp, "/executions", "GET", query=("date",), response=R.EXECUTIONS)
def list_executions(req: Request) -> dict[str, Any]:
    """The caller's executions on a trading date (default today, IST)."""
    reports = req.container.reports
    day = trade_date(req, reports.today())
    found = reports.executions(req.uid, day)
    return {"date": day, "items": [execution_view(i, events) for i, events in found]}


@route(bp, "/executions/{execution}", "GET", response=R.EXECUTION_DETAIL)
def get_execution(req: Request, execution: str) -> dict[str, Any]:
    """One execution with its orders: timings, broker ids, state history, fills."""
    report = req.container.reports.execution(req.uid, execution_sk(execution))
    view = {
        **execution_view(report.execution, report.events),
        "orders": [order_view(o) for o in report.orders],
    }
    if report.has_risk:
        view["risk"] = None if report.risk_book is None else risk_view(report.risk_book)
    return view


@route(bp, "/risk", "GET", query=("date",))
def list_risk(req: Request) -> dict[str, Any]:
    """The day's risk books: every guarded leg's stop, target, state and exit reason, and the
    risk events (triggers, modifications, exits, re-entries) with the prices that caused them."""
    reports = req.container.reports
    day = trade_date(req, reports.today())
    items = [
        {**risk_view(r.book), "execution_id": execution_id(r.execution_sk), "events": r.events}
        for r in reports.risk(req.uid, day)
    ]
    return {"date": day, "items": items}


def risk_view(book: RiskBookRecord) -> dict[str, Any]:
    return {
        "strategy_id": book.strategy_id,
        "trade_date": book.trade_date,
        "status": book.status,
        "mtm": book.mtm,
        "guards": [
            {k: v for k, v in guard.items() if k not in ("contract", "reentry_contract")}
            | {"broker_symbol": guard["contract"].get("broker_symbol")}
            for guard in book.guards
        ],
        "version": book.version,
    }


@route(bp, "/orders", "GET", query=("date", "status"), response=R.ORDERS)
def list_orders(req: Request) -> dict[str, Any]:
    """The caller's orders on a date (default today), optionally of one status."""
    reports = req.container.reports
    day = trade_date(req, reports.today())
    status = req.query.get("status")
    if status and status.upper() not in ORDER_STATUSES:
        raise ValidationFailed(f"status must be one of {', '.join(ORDER_STATUSES)}", field="status")
    items = reports.orders(req.uid, day, status.upper() if status else None)
    return {"date": day, "items": [order_view(o) for o in items]}


# -- positions and P&L -----------------------------------------------------------------------
@route(bp, "/positions", "GET", query=("strategy_id",), response=R.POSITIONS)
def list_positions(req: Request) -> dict[str, Any]:
    """The caller's positions (optionally of one strategy), from settled fills."""
    found = req.container.reports.positions(req.uid, req.query.get("strategy_id") or None)
    return {"items": [position_view(p) for p in found]}


@route(bp, "/pnl", "GET", query=("date",), response=R.PNL)
def pnl(req: Request) -> dict[str, Any]:
    """Realised and unrealised P&L of the positions traded on a date (default today)."""
    reports = req.container.reports
    report = reports.pnl(req.uid, trade_date(req, reports.today()))
    source = report.source
    return {
        "date": report.date,
        "realised": _money(report.realised),
        "unrealised": _money(report.unrealised),
        "total": _money(report.total),
        "unpriced": report.unpriced,
        "prices": {"source": source.name, "live": source.live, "note": source.note},
        "positions": [position_view(p) for p in report.positions],
    }


# -- kill switch -----------------------------------------------------------------------------
@route(bp, "/kill-switch", "POST", body=KillSwitchIn, status=202, response=R.KILL_SWITCH_ENGAGED)
def engage_kill_switch(req: Request) -> Response:
    """Engage (or join) the scope's kill switch: 202 with the operation.

    New entries are refused at once; the request that creates the operation runs its first
    square-off pass, later passes run in the driver until the scope is flat. A second request on
    the same scope joins the operation already engaged (nothing is squared off twice).
    """
    body: KillSwitchIn = req.body
    switch = req.container.kill_switch
    item, created = switch.engage(req.uid, body.scope, body.id, who=req.uid, reason=body.reason)
    if created:
        item = switch.drive(item).item
    return json_response({**kill_switch_view(item), "joined": not created}, 202)


@route(bp, "/kill-switch", "GET", response=R.items_of(R.KILL_SWITCH))
def list_kill_switches(req: Request) -> dict[str, Any]:
    """The caller's engaged kill switches, each with its operation's progress."""
    return {"items": [kill_switch_view(i) for i in req.container.kill_switch.active(req.uid)]}


@route(bp, "/kill-switch/{scope}", "DELETE")
def release_kill_switch(req: Request, scope: str) -> Response:
    """Release the global kill switch."""
    req.container.kill_switch.release(req.uid, scope, None)
    return json_response(None, 204)


@route(bp, "/kill-switch/{scope}/{target}", "DELETE")
def release_scoped_kill_switch(req: Request, scope: str, target: str) -> Response:
    """Release an account's or a strategy's kill switch."""
    req.container.kill_switch.release(req.uid, scope, target)
    return json_response(None, 204)
