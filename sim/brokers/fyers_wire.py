"""How Fyers v3 words its replies: the ``s`` ok / error envelope (negative error codes), the
books (orders, trades, positions, with numeric codes for sides, types, statuses and exchanges)
and the headerless symbol-master CSV ``chalicelib.domain.masters.fyers`` parses."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime, time
from decimal import Decimal
from typing import Any

from werkzeug.wrappers import Response

from chalicelib.domain.calendar import IST
from chalicelib.domain.instrument import Broker, Instrument
from chalicelib.domain.symbols import format_strike
from sim.brokers.common import money
from sim.brokers.wsgi import json_response
from sim.orderbook import Order, OrderType, Status, Trade
from sim.positions import Position

ERROR_CODES = {
    "token": -16,
    "ip": -363,
    "rate": -429,
    "server": -500,
    "input": -50,
    "order": -99,
    "not_found": -51,
}
ORDER_TYPES = {1: OrderType.LIMIT, 2: OrderType.MARKET, 3: OrderType.SL_M, 4: OrderType.SL}
ORDER_TYPE_CODES = {v: k for k, v in ORDER_TYPES.items()}
SIDES = {1: "BUY", -1: "SELL"}
SIDE_CODES = {v: k for k, v in SIDES.items()}
STATUS_CODES = {
    Status.CANCELLED: 1,
    Status.COMPLETE: 2,
    Status.REJECTED: 5,
    Status.OPEN: 6,
    Status.TRIGGER_PENDING: 6,
}
EXCHANGE_CODES = {"NFO": 10, "BFO": 12}
DERIVATIVES_SEGMENT, INDEX_OPTION = 11, 14
#: Fyers stamps a contract's expiry at the close of trading on its expiry day.
EXPIRY_TIME = time(15, 30)


def ok(code: int = 200, message: str = "", **payload: Any) -> Response:
    """Fyers's success envelope."""
    return json_response({"s": "ok", "code": code, "message": message, **payload})


def error_body(kind: str, message: str) -> dict[str, Any]:
    """Fyers's error body: ``s`` error and a negative ``code``."""
    return {"s": "error", "code": ERROR_CODES.get(kind, ERROR_CODES["input"]), "message": message}


def fyers_time(moment: datetime) -> str:
    """``10-Mar-2026 10:00:00`` in IST (orderDateTime)."""
    return moment.astimezone(IST).strftime("%d-%b-%Y %H:%M:%S")


def status_code(order: Order) -> int:
    """Fyers's numeric order status."""
    return STATUS_CODES[order.status]


def contract(instrument: Instrument) -> dict[str, Any]:
    """The contract fields every book row carries."""
    ref = instrument.refs[Broker.FYERS]
    exchange = str(instrument.exchange)
    return {
        "symbol": ref.symbol,
        "fyToken": ref.token,
        "exchange": EXCHANGE_CODES[exchange],
        "segment": DERIVATIVES_SEGMENT,
        "ex_sym": str(instrument.underlying),
    }


def order_row(order: Order, instrument: Instrument, ltp: Decimal) -> dict[str, Any]:
    """An orderBook row (``lp``: the contract's last price now)."""
    code = status_code(order)
    return {
        "clientId": order.account,
        "id": order.order_id,
        "exchOrdId": "" if order.status is Status.REJECTED else f"1{order.order_id}",
        **contract(instrument),
        "instrument": INDEX_OPTION,
        "qty": order.quantity,
        "filledQty": order.filled_quantity,
        "remainingQuantity": order.quantity - order.filled_quantity,
        "discloseQty": 0,
        "limitPrice": money(order.price),
        "stopPrice": money(order.trigger_price),
        "tradedPrice": money(order.average_price),
        "type": ORDER_TYPE_CODES[order.order_type],
        "side": SIDE_CODES[order.side],
        "productType": order.product,
        "orderValidity": order.validity,
        "status": code,
        "orderNumStatus": f"{order.order_id}:{code}",
        "message": order.status_message,
        "offlineOrder": False,
        "orderDateTime": fyers_time(order.placed_at),
        "orderTag": order.tag,
        "source": "API",
        "pan": "",
        "description": instrument.refs[Broker.FYERS].symbol,
        "lp": money(ltp),
    }


def trade_row(trade: Trade, order: Order, instrument: Instrument) -> dict[str, Any]:
    """A tradeBook row (the order it filled gives its type and tag)."""
    return {
        "clientId": trade.account,
        "orderNumber": trade.order_id,
        "exchangeOrderNo": f"1{trade.order_id}",
        **contract(instrument),
        "side": SIDE_CODES[trade.side],
        "orderType": ORDER_TYPE_CODES[order.order_type],
        "productType": trade.product,
        "tradedQty": trade.quantity,
        "tradePrice": money(trade.price),
        "tradeValue": money(trade.price * trade.quantity),
        "tradeNumber": trade.trade_id,
        "orderDateTime": fyers_time(trade.at),
        "orderTag": order.tag,
        "row": int(trade.trade_id),
    }


def position_row(p: Position, instrument: Instrument) -> dict[str, Any]:
    """A netPositions row."""
    fields = contract(instrument)
    buy_avg = p.buy_value / p.buy_quantity if p.buy_quantity else Decimal(0)
    sell_avg = p.sell_value / p.sell_quantity if p.sell_quantity else Decimal(0)
    return {
        **fields,
        "id": f"{fields['symbol']}-{p.product}",
        "productType": p.product,
        "netQty": p.quantity,
        "qty": abs(p.quantity),
        "side": 1 if p.quantity > 0 else -1 if p.quantity < 0 else 0,
        "avgPrice": money(p.average_price),
        "netAvg": money(p.average_price),
        "buyQty": p.buy_quantity,
        "buyAvg": money(buy_avg),
        "buyVal": money(p.buy_value),
        "sellQty": p.sell_quantity,
        "sellAvg": money(sell_avg),
        "sellVal": money(p.sell_value),
        "realized_profit": money(p.realised),
        "unrealized_profit": money(p.unrealised),
        "pl": money(p.pnl),
        "ltp": money(p.last_price),
        "qtyMulti_com": 1,
        "crossCurrency": "N",
    }


def master_csv(instruments: Iterable[Instrument], exchange: str, updated: str) -> str:
    """One exchange's symbol master (``NFO`` -> NSE_FO.csv, ``BFO`` -> BSE_FO.csv)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for i in instruments:
        if str(i.exchange) != exchange:
            continue
        ref = i.refs[Broker.FYERS]
        expiry = datetime.combine(i.key.expiry, EXPIRY_TIME, IST)
        strike = format_strike(i.strike)
        details = f"{i.underlying} {i.key.expiry:%d %b %y} {strike} {i.option_type}"
        writer.writerow(
            [
                ref.token, details, INDEX_OPTION, i.lot_size, str(i.tick_size), "",
                "0915-1530|1815-1915:", updated, int(expiry.timestamp()), ref.symbol,
                EXCHANGE_CODES[exchange], DERIVATIVES_SEGMENT, ref.token[-6:],
                str(i.underlying), "-1", strike, str(i.option_type), "", "None", 0, 0.0,
            ]
        )  # fmt: skip
    return out.getvalue()
