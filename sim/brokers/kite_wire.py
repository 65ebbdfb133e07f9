"""How Kite Connect v3 words its replies: the success and error envelopes, the books (orders
and their history, trades, positions, depth) and the instrument master CSV (the one
``chalicelib.domain.masters.kite`` parses)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from werkzeug.wrappers import Response

from chalicelib.domain.instrument import Broker, Instrument
from chalicelib.domain.symbols import format_strike
from sim.brokers.common import ist_text, money
from sim.brokers.wsgi import json_response
from sim.orderbook import Order, Status, Trade, prices_at
from sim.positions import Position

ERROR_TYPES = {
    "token": "TokenException",
    "ip": "PermissionException",
    "rate": "NetworkException",
    "server": "NetworkException",
    "input": "InputException",
    "order": "OrderException",
    "not_found": "GeneralException",
}
STATUS = {
    Status.OPEN: "OPEN",
    Status.TRIGGER_PENDING: "TRIGGER PENDING",
    Status.COMPLETE: "COMPLETE",
    Status.CANCELLED: "CANCELLED",
    Status.REJECTED: "REJECTED",
}
MASTER_COLUMNS = (
    "instrument_token", "exchange_token", "tradingsymbol", "name", "last_price", "expiry",
    "strike", "tick_size", "lot_size", "instrument_type", "segment", "exchange",
)  # fmt: skip


def ok(data: Any) -> Response:
    """Kite's success envelope."""
    return json_response({"status": "success", "data": data})


def error_body(kind: str, message: str) -> dict[str, Any]:
    """Kite's error envelope: the exception class its SDK raises is ``error_type``."""
    return {
        "status": "error",
        "message": message,
        "data": None,
        "error_type": ERROR_TYPES.get(kind, "GeneralException"),
    }


def order_row(
    order: Order, instrument: Instrument, state: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An order as Kite lists it (``state``: one history entry instead of the latest)."""
    ref = instrument.refs[Broker.KITE]
    status = Status(state["status"]) if state else order.status
    filled = state["filled_quantity"] if state else order.filled_quantity
    quantity = state["quantity"] if state else order.quantity
    pending = quantity - filled if status in (Status.OPEN, Status.TRIGGER_PENDING) else 0
    cancelled = quantity - filled if status in (Status.CANCELLED, Status.REJECTED) else 0
    message = (state["message"] if state else order.status_message) or None
    price, trigger = prices_at(order, state)
    average = order.average_price if not state else Decimal(state["average_price"])
    stamp = ist_text(order.placed_at)
    return {
        "account_id": order.account,
        "placed_by": order.account,
        "order_id": order.order_id,
        "exchange_order_id": None if status is Status.REJECTED else f"1{order.order_id}",
        "parent_order_id": None,
        "status": STATUS[status],
        "status_message": message,
        "status_message_raw": message,
        "order_timestamp": ist_text(order.updated_at)
        if not state
        else state["at"][:19].replace("T", " "),
        "exchange_update_timestamp": stamp,
        "exchange_timestamp": stamp,
        "variety": order.variety,
        "modified": len(order.history) > 2,
        "exchange": str(order.key.underlying.exchange),
        "tradingsymbol": ref.symbol,
        "instrument_token": int(ref.token),
        "order_type": str(order.order_type),
        "transaction_type": order.side,
        "validity": order.validity,
        "validity_ttl": 0,
        "product": order.product,
        "quantity": quantity,
        "disclosed_quantity": 0,
        "price": money(price),
        "trigger_price": money(trigger),
        "average_price": money(average),
        "filled_quantity": filled,
        "pending_quantity": pending,
        "cancelled_quantity": cancelled,
        "market_protection": money(order.market_protection or 0),
        "meta": {},
        "tag": order.tag or None,
        "tags": [order.tag] if order.tag else [],
        "guid": f"sim{order.order_id}",
    }


def trade_row(trade: Trade, instrument: Instrument) -> dict[str, Any]:
    """A fill as Kite lists it."""
    ref = instrument.refs[Broker.KITE]
    return {
        "trade_id": trade.trade_id,
        "order_id": trade.order_id,
        "exchange": str(trade.key.underlying.exchange),
        "tradingsymbol": ref.symbol,
        "instrument_token": int(ref.token),
        "product": trade.product,
        "average_price": money(trade.price),
        "quantity": trade.quantity,
        "exchange_order_id": f"1{trade.order_id}",
        "transaction_type": trade.side,
        "fill_timestamp": ist_text(trade.at),
        "order_timestamp": ist_text(trade.at)[11:],
        "exchange_timestamp": ist_text(trade.at),
    }


def position_row(p: Position, instrument: Instrument) -> dict[str, Any]:
    """A net position as Kite lists it (the same row under ``net`` and ``day``)."""
    ref = instrument.refs[Broker.KITE]
    return {
        "tradingsymbol": ref.symbol,
        "exchange": str(p.key.underlying.exchange),
        "instrument_token": int(ref.token),
        "product": p.product,
        "quantity": p.quantity,
        "overnight_quantity": 0,
        "multiplier": 1,
        "average_price": money(p.average_price),
        "close_price": 0,
        "last_price": money(p.last_price),
        "value": money(p.sell_value - p.buy_value),
        "pnl": money(p.pnl),
        "m2m": money(p.pnl),
        "unrealised": money(p.unrealised),
        "realised": money(p.realised),
        "buy_quantity": p.buy_quantity,
        "buy_price": money(p.buy_value / p.buy_quantity) if p.buy_quantity else 0,
        "buy_value": money(p.buy_value),
        "sell_quantity": p.sell_quantity,
        "sell_price": money(p.sell_value / p.sell_quantity) if p.sell_quantity else 0,
        "sell_value": money(p.sell_value),
        "day_buy_quantity": p.buy_quantity,
        "day_sell_quantity": p.sell_quantity,
    }


def depth(
    price: Decimal, instrument: Instrument | None, cap_lots: int | None
) -> dict[str, list[dict[str, Any]]]:
    """The exchange matches at the last price, at most ``cap_lots`` per look: its depth says
    exactly that (one level each side); without a cap, only empty levels (Kite pads a side
    with no orders with zeros)."""
    empty = {"price": 0, "quantity": 0, "orders": 0}
    if cap_lots is None or instrument is None:
        return {"buy": [empty] * 5, "sell": [empty] * 5}
    level = {"price": money(price), "quantity": cap_lots * instrument.lot_size, "orders": 1}
    return {"buy": [level] + [empty] * 4, "sell": [level] + [empty] * 4}


def master_csv(instruments: Iterable[Instrument], exchange: str | None) -> str:
    """The instrument master (``exchange``: one exchange's rows, else all)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(MASTER_COLUMNS)
    for i in instruments:
        if exchange and str(i.exchange) != exchange:
            continue
        ref = i.refs[Broker.KITE]
        writer.writerow(
            [
                ref.token, ref.token[-6:], ref.symbol, str(i.underlying), "0",
                i.expiry.isoformat(), format_strike(i.strike), str(i.tick_size), i.lot_size,
                str(i.option_type), f"{i.exchange}-OPT", str(i.exchange),
            ]
        )  # fmt: skip
    return out.getvalue()
