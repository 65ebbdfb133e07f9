"""Execution and results of the caller: executions, orders, positions, P&L, the kill switch.

Every read starts from the caller's partition, so another user's execution id simply is not
found (404). Execution ids are the execution item's sort key in URL-safe base64 (no padding).
"""

from __future__ import annotations

import base64
import binascii
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from chalice import Blueprint, Response

from chalicelib.adapters.dynamo.kill_switch_items import KillSwitchItem
from chalicelib.adapters.dynamo.models import ExecutionItem, OrderItem, PositionItem
from chalicelib.adapters.dynamo.risk_items import RiskBookItem
from chalicelib.api import responses as R
from chalicelib.api.routing import Request, json_response, route
from chalicelib.api.schemas import Strict
from chalicelib.domain import order_lifecycle
from chalicelib.domain.calendar import IST, default_calendar
from chalicelib.domain.market_errors import MarketRuleError
from chalicelib.errors import NotFound, ValidationFailed
from chalicelib.services.closing import contract_key
from chalicelib.services.quotes import QuoteSource

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


def trade_date(req: Request, now: datetime) -> str:
    raw = req.query.get("date")
    if not raw:
        return now.astimezone(IST).date().isoformat()
    try:
        return date.fromisoformat(raw).isoformat()
    except ValueError:
        raise ValidationFailed("date must be YYYY-MM-DD", field="date") from None


# -- views -----------------------------------------------------------------------------------
def execution_view(item: ExecutionItem, events: list[dict[str, Any]]) -> dict[str, Any]:
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


def fills_view(item: OrderItem) -> list[dict[str, Any]]:
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
    return [{**whole, "average_price": item.average_price}]


def _price(value: Decimal) -> str:
    """A price as the broker's are stored (``167.8``, ``100``): at most four decimals."""
    text = f"{value.quantize(Decimal('0.0001')):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def order_view(item: OrderItem) -> dict[str, Any]:
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
        "average_price": item.average_price,
        "fills": fills,
        "scheduled_at": item.scheduled_at,
        "sent_at": item.sent_at,
        "acked_at": item.acked_at,
        "error": item.error,
        "history": item.history or [],
    }


def position_view(item: PositionItem, ltp: Decimal | None = None) -> dict[str, Any]:
    buy_q, sell_q = int(item.buy_quantity), int(item.sell_quantity)
    buy_v, sell_v = Decimal(item.buy_value), Decimal(item.sell_value)
    buy_avg = buy_v / buy_q if buy_q else None
    sell_avg = sell_v / sell_q if sell_q else None
    closed = min(buy_q, sell_q)
    realised = (sell_avg - buy_avg) * closed if closed and buy_avg and sell_avg else Decimal(0)
    net = int(item.net_quantity)
    unrealised: Decimal | None = Decimal(0)
    if net:
        open_avg = buy_avg if net > 0 else sell_avg
        unrealised = None if ltp is None or open_avg is None else (ltp - open_avg) * net
    return {
        "strategy_id": item.strategy_id,
        "account_id": item.account_id,
        "symbol": item.symbol,
        "contract": item.contract,
        "net_quantity": net,
        "buy_quantity": buy_q,
        "sell_quantity": sell_q,
        "buy_value": _money(buy_v),
        "sell_value": _money(sell_v),
        "buy_average": None if buy_avg is None else _money(buy_avg),
        "sell_average": None if sell_avg is None else _money(sell_avg),
        "ltp": None if ltp is None else str(ltp),
        "realised": _money(realised),
        "unrealised": None if unrealised is None else _money(unrealised),
        "updated_at": item.updated_at,
    }


def kill_switch_view(item: KillSwitchItem) -> dict[str, Any]:
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


def _ltp(quotes: QuoteSource, item: PositionItem, at: datetime) -> Decimal | None:
    """The contract's price from the container's quote source (labelled in the response)."""
    try:
        key = contract_key(item.contract)
        close = default_calendar().fo_session_bounds(key.expiry)[1]
        expiry_time = datetime.combine(key.expiry, close, tzinfo=IST)
        if expiry_time <= at:
            return None
        chain = quotes.chain(key.underlying, (key.strike,), at, expiry_time)
        return chain.premium(key.strike, key.option_type)
    except (MarketRuleError, KeyError, ValueError):
        return None


# -- executions and orders -------------------------------------------------------------------
@route(bp, "/executions", "GET", query=("date",), response=R.EXECUTIONS)
def list_executions(req: Request) -> dict[str, Any]:
    """The caller's executions on a trading date (default today, IST)."""
    day = trade_date(req, req.container.clock())
    items = req.container.executions.executions_on(req.uid, day)
    books = req.container.risk.books
    return {"date": day, "items": [execution_view(i, books.events(i)) for i in items]}


@route(bp, "/executions/{execution}", "GET", response=R.EXECUTION_DETAIL)
def get_execution(req: Request, execution: str) -> dict[str, Any]:
    """One execution with its orders: timings, broker ids, state history, fills."""
    sk = execution_sk(execution)
    item = req.container.executions.get_execution(req.uid, sk)
    orders = req.container.executions.orders_of_execution(req.uid, sk)
    orders.sort(key=lambda o: (o.scheduled_at, o.sent_at or "", o.order_id))
    view = {
        **execution_view(item, req.container.risk.books.events(item)),
        "orders": [order_view(o) for o in orders],
    }
    if item.phase == "ENTRY":
        book = req.container.risk.books.get(req.uid, item.trade_date, item.strategy_id)
        view["risk"] = None if book is None else risk_view(book)
    return view


@route(bp, "/risk", "GET", query=("date",))
def list_risk(req: Request) -> dict[str, Any]:
    """The day's risk books: every guarded leg's stop, target, state and exit reason, and the
    risk events (triggers, modifications, exits, re-entries) with the prices that caused them."""
    day = trade_date(req, req.container.clock())
    books = req.container.risk.books.of_user(req.uid, day)
    items = []
    for book in books:
        execution = req.container.executions.get_execution(req.uid, book.execution)
        events = [
            e
            for e in req.container.risk.books.events(execution)
            if e.get("kind") in RISK_EVENT_KINDS
        ]
        items.append({**risk_view(book), "execution_id": execution_id(book.execution),
                      "events": events})  # fmt: skip
    return {"date": day, "items": items}


RISK_EVENT_KINDS = frozenset({
    "risk_armed", "stop_placed", "stop_loss", "target", "trail", "move_to_cost", "closed",
    "stop_order_lost", "alert", "mtm_exit", "re_entry_waiting", "re_entered", "re_entry_expired",
    "re_entry_refused", "re_entry_not_sent", "underlying_reference", "underlying_exit",
    "wait_and_trade_reference", "wait_and_trade_reached", "wait_and_trade_entered",
    "wait_and_trade_skipped", "wait_and_trade_refused", "wait_and_trade_unwind",
    "wait_and_trade_withdrawn",
    "exit_time", "exit_time_takeover",
})  # fmt: skip


def risk_view(book: RiskBookItem) -> dict[str, Any]:
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
    day = trade_date(req, req.container.clock())
    status = req.query.get("status")
    if status and status.upper() not in ORDER_STATUSES:
        raise ValidationFailed(f"status must be one of {', '.join(ORDER_STATUSES)}", field="status")
    items = req.container.executions.orders_on(req.uid, day)
    if status:
        items = [o for o in items if o.status == status.upper()]
    return {"date": day, "items": [order_view(o) for o in items]}


# -- positions and P&L -----------------------------------------------------------------------
@route(bp, "/positions", "GET", query=("strategy_id",), response=R.POSITIONS)
def list_positions(req: Request) -> dict[str, Any]:
    """The caller's positions (optionally of one strategy), from settled fills."""
    items = req.container.executions.positions(req.uid, req.query.get("strategy_id") or None)
    return {"items": [position_view(p) for p in items]}


@route(bp, "/pnl", "GET", query=("date",), response=R.PNL)
def pnl(req: Request) -> dict[str, Any]:
    """Realised and unrealised P&L of the positions traded on a date (default today)."""
    now = req.container.clock()
    day = trade_date(req, now)
    quotes = req.container.quotes_of(req.uid)
    items = [
        p
        for p in req.container.executions.positions(req.uid)
        if (p.updated_at or "").startswith(day)
    ]
    views = [position_view(p, _ltp(quotes, p, now) if p.net_quantity else None) for p in items]
    realised = sum((Decimal(v["realised"]) for v in views), Decimal(0))
    priced = [v["unrealised"] for v in views if v["unrealised"] is not None]
    unrealised = sum((Decimal(u) for u in priced), Decimal(0))
    return {
        "date": day,
        "realised": _money(realised),
        "unrealised": _money(unrealised),
        "total": _money(realised + unrealised),
        "unpriced": [v["symbol"] for v in views if v["unrealised"] is None],
        "prices": {"source": quotes.name, "live": quotes.live, "note": quotes.note},
        "positions": views,
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
