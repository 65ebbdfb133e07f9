"""How Angel One SmartAPI words its replies: the envelope (``status`` true or false with an
``errorcode``), the books (orders, trades, positions; most numbers as text) and the scrip
master (``OpenAPIScripMaster.json``)."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from chalicelib.domain.instrument import Broker, Instrument
from chalicelib.domain.symbols import MONTHS
from sim.brokers.common import ist_text, money
from sim.brokers.wsgi import json_response
from sim.orderbook import Order, OrderType, Status, Trade, broker_reason
from sim.positions import Position

ERRORS = {
    "token": "AG8001",
    "ip": "AB1050",
    "rate": "AB1019",
    "server": "AB1004",
    "input": "AB1008",
    "order": "AB4008",
    "not_found": "AB1000",
}
ORDER_TYPES = {
    "MARKET": OrderType.MARKET,
    "LIMIT": OrderType.LIMIT,
    "STOPLOSS_LIMIT": OrderType.SL,
    "STOPLOSS_MARKET": OrderType.SL_M,
}
ORDER_TYPE_NAMES = {v: k for k, v in ORDER_TYPES.items()}
STATUS = {
    Status.OPEN: "open",
    Status.TRIGGER_PENDING: "trigger pending",
    Status.COMPLETE: "complete",
    Status.CANCELLED: "cancelled",
    Status.REJECTED: "rejected",
}


def envelope(data: Any, message: str = "SUCCESS") -> Response:
    """Angel's success envelope."""
    return json_response({"status": True, "message": message, "errorcode": "", "data": data})


def error_body(kind: str, message: str) -> dict[str, Any]:
    """Angel's error envelope: ``status`` false and its ``errorcode``."""
    return {
        "status": False,
        "message": message,
        "errorcode": ERRORS.get(kind, "AB1000"),
        "data": None,
    }


def order_row(order: Order, instrument: Instrument) -> dict[str, Any]:
    """An order as Angel lists it."""
    ref = instrument.refs[Broker.ANGEL]
    e = order.key.expiry
    return {
        "variety": order.variety,
        "ordertype": ORDER_TYPE_NAMES[order.order_type],
        "producttype": order.product,
        "duration": order.validity,
        "price": money(order.price),
        "triggerprice": money(order.trigger_price),
        "quantity": str(order.quantity),
        "disclosedquantity": "0",
        "tradingsymbol": ref.symbol,
        "transactiontype": order.side,
        "exchange": str(instrument.exchange),
        "symboltoken": ref.token,
        "ordertag": order.tag,
        "instrumenttype": "OPTIDX",
        "strikeprice": money(order.key.strike),
        "optiontype": str(order.key.option_type),
        "expirydate": f"{e.day:02d}{MONTHS[e.month - 1]}{e.year}",
        "lotsize": str(order.lot_size),
        "cancelsize": str(order.cancelled_quantity),
        "averageprice": money(order.average_price),
        "filledshares": str(order.filled_quantity),
        "unfilledshares": str(order.quantity - order.filled_quantity),
        "orderid": order.order_id,
        "text": broker_reason(order.status, order.status_message),
        "status": STATUS[order.status],
        "orderstatus": STATUS[order.status],
        "updatetime": order.updated_at.strftime("%d-%b-%Y %H:%M:%S"),
        "exchtime": order.updated_at.strftime("%d-%b-%Y %H:%M:%S"),
        "exchorderupdatetime": ist_text(order.updated_at),
        "parentorderid": "",
        "uniqueorderid": f"u{order.order_id}",
    }


def trade_row(t: Trade, instrument: Instrument) -> dict[str, Any]:
    """A fill as the trade book lists it."""
    ref = instrument.refs[Broker.ANGEL]
    return {
        "exchange": str(t.key.underlying.exchange),
        "producttype": t.product,
        "tradingsymbol": ref.symbol,
        "symboltoken": ref.token,
        "transactiontype": t.side,
        "fillprice": money(t.price),
        "fillsize": str(t.quantity),
        "orderid": t.order_id,
        "fillid": t.trade_id,
        "filltime": t.at.strftime("%H:%M:%S"),
    }


def position_row(p: Position, instrument: Instrument) -> dict[str, Any]:
    """A net position as ``getPosition`` lists it."""
    ref = instrument.refs[Broker.ANGEL]
    return {
        "exchange": str(p.key.underlying.exchange),
        "symboltoken": ref.token,
        "producttype": p.product,
        "tradingsymbol": ref.symbol,
        "netqty": str(p.quantity),
        "buyqty": str(p.buy_quantity),
        "sellqty": str(p.sell_quantity),
        "buyamount": str(p.buy_value),
        "sellamount": str(p.sell_value),
        "netprice": str(p.average_price),
        "ltp": str(p.last_price),
        "pnl": str(p.pnl),
        "realised": str(p.realised),
        "unrealised": str(p.unrealised),
        "lotsize": str(instrument.lot_size),
    }


def master_row(i: Instrument) -> dict[str, str]:
    """One contract of the scrip master."""
    ref = i.refs[Broker.ANGEL]
    e = i.expiry
    return {
        "token": ref.token,
        "symbol": ref.symbol,
        "name": str(i.underlying),
        "expiry": f"{e.day:02d}{MONTHS[e.month - 1]}{e.year}",
        "strike": f"{i.strike * 100:.6f}",
        "lotsize": str(i.lot_size),
        "instrumenttype": "OPTIDX",
        "exch_seg": str(i.exchange),
        "tick_size": "5.000000",
    }
