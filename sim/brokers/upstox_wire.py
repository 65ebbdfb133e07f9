"""How Upstox words its replies: the success and error envelopes, the books (orders, with the
pre-exchange states at the head of an order's history, trades, positions) and the BOD
instrument master (JSON rows that ``chalicelib.domain.masters.upstox`` parses)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime
from datetime import time as clock_time
from decimal import Decimal
from typing import Any

from werkzeug.wrappers import Response

from chalicelib.domain.calendar import IST
from chalicelib.domain.expiry import default_expiry_rules
from chalicelib.domain.instrument import Broker, Instrument
from chalicelib.domain.symbols import format_strike
from sim.brokers.common import ist_text, money
from sim.brokers.wsgi import json_response
from sim.orderbook import Order, Status, Trade, prices_at
from sim.positions import Position

ERRORS = {
    "token": "UDAPI100050",
    "ip": "UDAPI1154",
    "rate": "UDAPI10005",
    "server": "UDAPI100500",
    "input": "UDAPI1004",
    "order": "UDAPI100049",
    "not_found": "UDAPI100010",
    "login": "UDAPI100016",
    "code": "UDAPI100057",
}
STATUS = {
    Status.OPEN: "open",
    Status.TRIGGER_PENDING: "trigger pending",
    Status.COMPLETE: "complete",
    Status.CANCELLED: "cancelled",
    Status.REJECTED: "rejected",
}
#: What Upstox's order history shows before the order reaches the exchange.
ENTRY_STATES = ("put order req received", "validation pending", "open pending")
SEGMENTS = {"NFO": "NSE_FO", "BFO": "BSE_FO"}
INDEX_KEYS = {
    "NIFTY": "NSE_INDEX|Nifty 50",
    "BANKNIFTY": "NSE_INDEX|Nifty Bank",
    "FINNIFTY": "NSE_INDEX|Nifty Fin Service",
    "MIDCPNIFTY": "NSE_INDEX|NIFTY MID SELECT",
    "SENSEX": "BSE_INDEX|SENSEX",
}
#: Upstox stamps a contract's expiry at the end of its expiry day (epoch milliseconds).
EXPIRY_TIME = clock_time(23, 59, 59)


def success(data: Any, *, v3: bool = False, started: float | None = None) -> Response:
    """Upstox's success envelope (v3 replies carry the server latency in ms)."""
    body: dict[str, Any] = {"status": "success", "data": data}
    if v3:
        elapsed = 0 if started is None else int((time.perf_counter() - started) * 1000)
        body["metadata"] = {"latency": elapsed}
    return json_response(body)


def error_body(
    kind: str, message: str, property_path: str | None = None, invalid_value: Any = None
) -> dict[str, Any]:
    """The error envelope, naming the offending field when there is one (camelCase and
    snake_case spellings both, as Upstox sends them while it deprecates the first)."""
    code = ERRORS.get(kind, ERRORS["input"])
    entry = {
        "errorCode": code,
        "message": message,
        "propertyPath": property_path,
        "invalidValue": invalid_value,
        "error_code": code,
        "property_path": property_path,
        "invalid_value": invalid_value,
    }
    return {"status": "error", "errors": [entry]}


def instrument_fields(instrument: Instrument) -> dict[str, Any]:
    """The contract fields every book row carries (both spellings of the symbol)."""
    ref = instrument.refs[Broker.UPSTOX]
    return {
        "exchange": str(instrument.exchange),
        "instrument_token": ref.token,
        "trading_symbol": ref.symbol,
        "tradingsymbol": ref.symbol,
    }


def order_row(
    order: Order, instrument: Instrument, state: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An order as Upstox lists it (``state``: one history entry instead of the latest)."""
    status = Status(state["status"]) if state else order.status
    filled = state["filled_quantity"] if state else order.filled_quantity
    quantity = state["quantity"] if state else order.quantity
    average = Decimal(state["average_price"]) if state else order.average_price
    message = (state["message"] if state else order.status_message) or ""
    stamp = state["at"] if state else order.updated_at.isoformat()
    price, trigger = prices_at(order, state)
    return {
        **instrument_fields(instrument),
        "product": order.product,
        "price": money(price),
        "quantity": quantity,
        "status": STATUS[status],
        "guid": f"sim{order.order_id}",
        "tag": order.tag or None,
        "placed_by": order.account,
        "order_type": str(order.order_type),
        "validity": order.validity,
        "trigger_price": money(trigger),
        "disclosed_quantity": 0,
        "transaction_type": order.side,
        "average_price": money(average),
        "filled_quantity": filled,
        "pending_quantity": quantity - filled
        if status in (Status.OPEN, Status.TRIGGER_PENDING)
        else 0,
        "status_message": message or None,
        "status_message_raw": message or None,
        "exchange_order_id": None if status is Status.REJECTED else f"1{order.order_id}",
        "parent_order_id": None,
        "order_id": order.order_id,
        "variety": "AMO" if order.variety == "amo" else "SIMPLE",
        "order_timestamp": ist_text(datetime.fromisoformat(stamp)),
        "exchange_timestamp": ist_text(order.placed_at),
        "is_amo": order.variety == "amo",
        "order_request_id": "1",
        "order_ref_id": f"sim-{order.order_id}",
    }


def history_rows(order: Order, instrument: Instrument) -> list[dict[str, Any]]:
    """An order's history: the pre-exchange states Upstox shows first, then each change."""
    first = order_row(order, instrument, order.history[0])
    entry = [
        {**first, "status": name, "filled_quantity": 0, "average_price": 0,
         "pending_quantity": order.quantity, "status_message": None,
         "status_message_raw": None, "exchange_order_id": None}
        for name in ENTRY_STATES
    ]  # fmt: skip
    return entry + [order_row(order, instrument, state) for state in order.history]


def trade_row(trade: Trade, instrument: Instrument) -> dict[str, Any]:
    """A fill as Upstox lists it."""
    return {
        **instrument_fields(instrument),
        "product": trade.product,
        "order_type": "LIMIT",
        "transaction_type": trade.side,
        "quantity": trade.quantity,
        "exchange_order_id": f"1{trade.order_id}",
        "order_id": trade.order_id,
        "exchange_timestamp": ist_text(trade.at),
        "average_price": money(trade.price),
        "trade_id": trade.trade_id,
        "order_ref_id": f"sim-{trade.order_id}",
        "order_timestamp": ist_text(trade.at),
    }


def position_row(p: Position, instrument: Instrument) -> dict[str, Any]:
    """A short-term position as Upstox lists it."""
    buy_price = p.buy_value / p.buy_quantity if p.buy_quantity else Decimal(0)
    sell_price = p.sell_value / p.sell_quantity if p.sell_quantity else Decimal(0)
    return {
        **instrument_fields(instrument),
        "multiplier": 1.0,
        "value": money(p.sell_value - p.buy_value),
        "pnl": money(p.pnl),
        "product": p.product,
        "average_price": money(p.average_price),
        "buy_value": money(p.buy_value),
        "sell_value": money(p.sell_value),
        "buy_price": money(buy_price),
        "sell_price": money(sell_price),
        "day_buy_quantity": p.buy_quantity,
        "day_buy_value": money(p.buy_value),
        "day_buy_price": money(buy_price),
        "day_sell_quantity": p.sell_quantity,
        "day_sell_value": money(p.sell_value),
        "day_sell_price": money(sell_price),
        "overnight_quantity": 0,
        "overnight_buy_quantity": 0,
        "overnight_buy_amount": 0.0,
        "overnight_sell_quantity": 0,
        "overnight_sell_amount": 0.0,
        "quantity": p.quantity,
        "last_price": money(p.last_price),
        "close_price": 0.0,
        "unrealised": money(p.unrealised),
        "realised": money(p.realised),
    }


def master_rows(instruments: Iterable[Instrument]) -> list[dict[str, Any]]:
    """The BOD instrument master."""
    rows = []
    for i in instruments:
        ref = i.refs[Broker.UPSTOX]
        expiry = datetime.combine(i.key.expiry, EXPIRY_TIME, IST)
        underlying = str(i.underlying)
        rows.append(
            {
                "name": underlying,
                "segment": SEGMENTS[str(i.exchange)],
                "exchange": SEGMENTS[str(i.exchange)].split("_")[0],
                "expiry": int(expiry.timestamp() * 1000),
                "weekly": not default_expiry_rules().is_monthly(i.underlying, i.key.expiry),
                "instrument_key": ref.token,
                "exchange_token": ref.token.partition("|")[2],
                "trading_symbol": ref.symbol,
                "tick_size": float(i.tick_size * 100),
                "lot_size": i.lot_size,
                "instrument_type": str(i.option_type),
                "freeze_quantity": float(i.freeze_qty or 0),
                "underlying_key": INDEX_KEYS[underlying],
                "underlying_type": "INDEX",
                "underlying_symbol": underlying,
                "strike_price": float(format_strike(i.strike)),
                "minimum_lot": i.lot_size,
                "asset_symbol": underlying,
                "asset_type": "INDEX",
                "asset_key": INDEX_KEYS[underlying],
            }
        )
    return rows
