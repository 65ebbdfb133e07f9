"""How Dhan v2 words its replies: the error body (``errorType`` and a ``DH-9xx`` code), the
books (orders, trades, positions) and the scrip master CSV.

Dhan has no trigger-pending status: a stop order waiting for its trigger is ``PENDING`` like a
resting limit (``orderType`` STOP_LOSS and nothing filled tell them apart, as far as they can be).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from chalicelib.domain.instrument import Broker, Instrument
from chalicelib.domain.symbols import dhan_exchange_segment, format_strike
from sim.brokers.common import ist_text, money
from sim.orderbook import Order, OrderType, Status, Trade, broker_reason
from sim.positions import Position

ERRORS = {
    "token": ("Invalid_Authentication", "DH-901"),
    "ip": ("Invalid_Access", "DH-902"),
    "rate": ("Rate_Limit", "DH-904"),
    "input": ("Input_Exception", "DH-905"),
    "order": ("Order_Error", "DH-906"),
    "server": ("Internal_Server_Error", "DH-908"),
    "not_found": ("Other_Error", "DH-910"),
}
ORDER_TYPES = {
    "MARKET": OrderType.MARKET,
    "LIMIT": OrderType.LIMIT,
    "STOP_LOSS": OrderType.SL,
    "STOP_LOSS_MARKET": OrderType.SL_M,
}
ORDER_TYPE_NAMES = {v: k for k, v in ORDER_TYPES.items()}
MASTER_COLUMNS = (
    "SEM_EXM_EXCH_ID", "SEM_SEGMENT", "SEM_SMST_SECURITY_ID", "SEM_INSTRUMENT_NAME",
    "SEM_EXPIRY_CODE", "SEM_TRADING_SYMBOL", "SEM_LOT_UNITS", "SEM_CUSTOM_SYMBOL",
    "SEM_EXPIRY_DATE", "SEM_STRIKE_PRICE", "SEM_OPTION_TYPE", "SEM_TICK_SIZE", "SEM_EXPIRY_FLAG",
)  # fmt: skip


def error_body(kind: str, message: str) -> dict[str, Any]:
    """Dhan's error body: ``errorType`` and its ``DH-9xx`` code."""
    error_type, code = ERRORS.get(kind, ERRORS["not_found"])
    return {"errorType": error_type, "errorCode": code, "errorMessage": message}


def status_of(order: Order) -> str:
    """Dhan's orderStatus."""
    if order.status is Status.COMPLETE:
        return "TRADED"
    if order.status in (Status.OPEN, Status.TRIGGER_PENDING):
        return "PART_TRADED" if order.filled_quantity else "PENDING"
    return str(order.status)


def order_row(order: Order, instrument: Instrument) -> dict[str, Any]:
    """An order as Dhan lists it."""
    ref = instrument.refs[Broker.DHAN]
    return {
        "dhanClientId": order.account,
        "orderId": order.order_id,
        "correlationId": order.tag,
        "orderStatus": status_of(order),
        "transactionType": order.side,
        "exchangeSegment": dhan_exchange_segment(instrument.exchange),
        "productType": order.product,
        "orderType": ORDER_TYPE_NAMES[order.order_type],
        "validity": order.validity,
        "tradingSymbol": ref.symbol,
        "securityId": ref.token,
        "quantity": order.quantity,
        "disclosedQuantity": 0,
        "price": money(order.price),
        "triggerPrice": money(order.trigger_price),
        "afterMarketOrder": False,
        "boProfitValue": 0,
        "boStopLossValue": 0,
        "legName": "NA",
        "createTime": ist_text(order.placed_at),
        "updateTime": ist_text(order.updated_at),
        "exchangeTime": ist_text(order.updated_at),
        "drvExpiryDate": order.key.expiry.isoformat(),
        "drvOptionType": "CALL" if order.key.option_type == "CE" else "PUT",
        "drvStrikePrice": money(order.key.strike),
        "omsErrorCode": order.reject_code or "",
        "omsErrorDescription": broker_reason(order.status, order.status_message),
        "algoId": "",
        "remainingQuantity": order.quantity - order.filled_quantity,
        "averageTradedPrice": money(order.average_price),
        "filledQty": order.filled_quantity,
    }


def trade_row(t: Trade, instrument: Instrument) -> dict[str, Any]:
    """A fill as Dhan lists it."""
    ref = instrument.refs[Broker.DHAN]
    return {
        "dhanClientId": t.account,
        "orderId": t.order_id,
        "exchangeOrderId": f"1{t.order_id}",
        "exchangeTradeId": t.trade_id,
        "transactionType": t.side,
        "exchangeSegment": dhan_exchange_segment(t.key.underlying.exchange),
        "productType": t.product,
        "orderType": "LIMIT",
        "tradingSymbol": ref.symbol,
        "securityId": ref.token,
        "tradedQuantity": t.quantity,
        "tradedPrice": money(t.price),
        "createTime": ist_text(t.at),
        "updateTime": ist_text(t.at),
        "exchangeTime": ist_text(t.at),
    }


def position_row(p: Position, instrument: Instrument) -> dict[str, Any]:
    """A net position as Dhan lists it."""
    ref = instrument.refs[Broker.DHAN]
    kind = "LONG" if p.quantity > 0 else "SHORT" if p.quantity < 0 else "CLOSED"
    return {
        "dhanClientId": p.account,
        "tradingSymbol": ref.symbol,
        "securityId": ref.token,
        "positionType": kind,
        "exchangeSegment": dhan_exchange_segment(p.key.underlying.exchange),
        "productType": p.product,
        "buyAvg": money(p.buy_value / p.buy_quantity) if p.buy_quantity else 0,
        "buyQty": p.buy_quantity,
        "costPrice": money(p.average_price),
        "sellAvg": money(p.sell_value / p.sell_quantity) if p.sell_quantity else 0,
        "sellQty": p.sell_quantity,
        "netQty": p.quantity,
        "realizedProfit": money(p.realised),
        "unrealizedProfit": money(p.unrealised),
        "multiplier": 1,
        "drvExpiryDate": p.key.expiry.isoformat(),
        "drvOptionType": "CALL" if p.key.option_type == "CE" else "PUT",
        "drvStrikePrice": money(p.key.strike),
    }


def master_csv(instruments: Iterable[Instrument]) -> str:
    """The scrip master (``api-scrip-master.csv``)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(MASTER_COLUMNS)
    for i in instruments:
        ref = i.refs[Broker.DHAN]
        exch = "NSE" if i.exchange == "NFO" else "BSE"
        writer.writerow(
            [
                exch, "D", ref.token, "OPTIDX", 0, ref.symbol, f"{i.lot_size}.0",
                f"{i.underlying} {i.expiry:%d %b} {format_strike(i.strike)} {i.option_type}",
                f"{i.expiry.isoformat()} 14:30:00", f"{i.strike:.5f}", str(i.option_type),
                "5.0000", "W",
            ]
        )  # fmt: skip
    return out.getvalue()
