"""How the Noren OMS words its replies: ``stat`` Ok / Not_Ok bodies stamped with the request
time, every number as text; the books (OrderBook, SingleOrdHist with its report types,
TradeBook, PositionBook) and the symbol masters ``chalicelib.domain.masters.noren`` parses."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from werkzeug.wrappers import Response

from chalicelib.domain.instrument import Broker, Instrument
from chalicelib.domain.symbols import MONTHS, format_strike
from sim.brokers.wsgi import json_response
from sim.orderbook import Order, OrderType, Status, Trade, broker_reason, prices_at
from sim.positions import Position

STATUS = {
    Status.OPEN: "OPEN",
    Status.TRIGGER_PENDING: "TRIGGER_PENDING",
    Status.COMPLETE: "COMPLETE",
    Status.CANCELLED: "CANCELED",
    Status.REJECTED: "REJECTED",
}
PRICE_TYPES = {"LMT": OrderType.LIMIT, "SL-LMT": OrderType.SL}
PRICE_TYPE_NAMES = {v: k for k, v in PRICE_TYPES.items()}
SIDES = {"B": "BUY", "S": "SELL"}
SIDE_NAMES = {v: k for k, v in SIDES.items()}
MASTER_COLUMNS = (
    "Exchange", "Token", "LotSize", "Symbol", "TradingSymbol", "Expiry", "Instrument",
    "OptionType", "StrikePrice", "TickSize",
)  # fmt: skip


def noren_time(moment: datetime) -> str:
    """``HH:MM:SS DD-MM-YYYY`` (request_time, norentm)."""
    return moment.strftime("%H:%M:%S %d-%m-%Y")


def exchange_time(moment: datetime) -> str:
    """``DD-MM-YYYY HH:MM:SS`` (exch_tm, fltm)."""
    return moment.strftime("%d-%m-%Y %H:%M:%S")


def price_text(value: Decimal) -> str:
    """Noren sends every number as a string; prices with two decimals."""
    return f"{value:.2f}"


def ok(**fields: Any) -> Response:
    """Noren's success reply for single-object calls."""
    return json_response({"stat": "Ok", **fields})


def error_body(message: str, at: datetime) -> dict[str, Any]:
    """Noren's refusal: ``stat`` Not_Ok with ``emsg``, stamped like every reply."""
    return {"stat": "Not_Ok", "emsg": message, "request_time": noren_time(at)}


def contract_fields(instrument: Instrument) -> dict[str, str]:
    """The contract fields every book row carries (Noren sends every number as text)."""
    ref = instrument.refs[Broker.NOREN]
    return {
        "exch": str(instrument.exchange),
        "tsym": ref.symbol,
        "token": ref.token,
        "ls": str(instrument.lot_size),
        "ti": str(instrument.tick_size),
        "pp": "2",
        "prcftr": "1.000000",
    }


def order_row(
    order: Order, instrument: Instrument, state: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An order as OrderBook lists it (``state``: one SingleOrdHist entry instead)."""
    status = Status(state["status"]) if state else order.status
    filled = state["filled_quantity"] if state else order.filled_quantity
    quantity = state["quantity"] if state else order.quantity
    average = Decimal(state["average_price"]) if state else order.average_price
    at = datetime.fromisoformat(state["at"]) if state else order.updated_at
    price, trigger = prices_at(order, state)
    row = {
        "stat": "Ok",
        "norenordno": order.order_id,
        "uid": order.account,
        "actid": order.account,
        **contract_fields(instrument),
        "qty": str(quantity),
        "trantype": SIDE_NAMES[order.side],
        "prctyp": PRICE_TYPE_NAMES.get(order.order_type, str(order.order_type)),
        "ret": order.validity,
        "prc": price_text(price),
        "trgprc": price_text(trigger),
        "rprc": price_text(price),
        "dscqty": "0",
        "prd": order.product,
        "status": STATUS[status],
        "st_intrn": STATUS[status],
        "fillshares": str(filled),
        "avgprc": price_text(average),
        "remarks": order.tag,
        "norentm": noren_time(at),
        "ordenttm": str(int(order.placed_at.timestamp())),
        "exch_tm": exchange_time(at),
        "ordersource": "API",
    }
    if status is not Status.REJECTED:
        row["exchordid"] = f"1{order.order_id}"
    reason = broker_reason(status, (state["message"] if state else order.status_message) or "")
    if status is Status.REJECTED or reason:
        row["rejreason"] = reason
    if status is Status.CANCELLED:
        row["cancelqty"] = str(quantity - filled)
    return row


def report_type(state: dict[str, Any], before: dict[str, Any] | None) -> str:
    """Noren's ``rpt`` (report type) for one history entry."""
    status = Status(state["status"])
    if state["message"] == "modified":
        return "Replaced"
    if status is Status.CANCELLED:
        return "Canceled"
    if status is Status.REJECTED:
        return "Rejected"
    if before is not None and state["filled_quantity"] > before["filled_quantity"]:
        return "Fill"
    if state["message"] == "triggered":
        return "TriggerHit"
    return "New"


def history_rows(order: Order, instrument: Instrument) -> list[dict[str, Any]]:
    """SingleOrdHist: newest first, ending with the PENDING entry the OMS records before the
    exchange ack."""
    rows, before = [], None
    for state in order.history:
        rows.append({**order_row(order, instrument, state), "rpt": report_type(state, before)})
        before = state
    first = order.history[0]
    pending = {
        **order_row(order, instrument, first),
        "status": "PENDING",
        "st_intrn": "PENDING",
        "rpt": "PendingNew",
        "fillshares": "0",
        "avgprc": "0.00",
    }
    pending.pop("rejreason", None)
    pending.pop("exchordid", None)
    return list(reversed([pending, *rows]))


def trade_row(trade: Trade, order: Order, instrument: Instrument) -> dict[str, Any]:
    """A TradeBook row (the order it filled gives its type, validity, price and tag)."""
    return {
        "stat": "Ok",
        "norenordno": trade.order_id,
        "uid": trade.account,
        "actid": trade.account,
        **contract_fields(instrument),
        "prctyp": PRICE_TYPE_NAMES.get(order.order_type, str(order.order_type)),
        "ret": order.validity,
        "prd": trade.product,
        "flid": trade.trade_id,
        "fltm": exchange_time(trade.at),
        "trantype": SIDE_NAMES[trade.side],
        "qty": str(order.quantity),
        "fillshares": str(trade.quantity),
        "flqty": str(trade.quantity),
        "flprc": price_text(trade.price),
        "prc": price_text(order.price),
        "avgprc": price_text(trade.price),
        "norentm": noren_time(trade.at),
        "exch_tm": exchange_time(trade.at),
        "remarks": order.tag,
        "exchordid": f"1{trade.order_id}",
    }


def position_row(p: Position, instrument: Instrument, client_id: str) -> dict[str, Any]:
    """A PositionBook row."""
    buy_avg = p.buy_value / p.buy_quantity if p.buy_quantity else Decimal(0)
    sell_avg = p.sell_value / p.sell_quantity if p.sell_quantity else Decimal(0)
    return {
        "stat": "Ok",
        "uid": client_id,
        "actid": client_id,
        **contract_fields(instrument),
        "prd": p.product,
        "s_prdt_ali": "MIS" if p.product == "I" else "NRML",
        "daybuyqty": str(p.buy_quantity),
        "daysellqty": str(p.sell_quantity),
        "daybuyamt": price_text(p.buy_value),
        "daysellamt": price_text(p.sell_value),
        "daybuyavgprc": price_text(buy_avg),
        "daysellavgprc": price_text(sell_avg),
        "cfbuyqty": "0",
        "cfsellqty": "0",
        "netqty": str(p.quantity),
        "netavgprc": price_text(p.average_price),
        "lp": price_text(p.last_price),
        "urmtom": price_text(p.unrealised),
        "rpnl": price_text(p.realised),
        "mult": "1",
    }


def master_text(instruments: Iterable[Instrument], exchange: str) -> str:
    """One exchange's symbol master (``NFO_symbols.txt``, ``BFO_symbols.txt``)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*MASTER_COLUMNS, ""])
    for i in instruments:
        if str(i.exchange) != exchange:
            continue
        ref = i.refs[Broker.NOREN]
        expiry = f"{i.key.expiry.day:02d}-{MONTHS[i.key.expiry.month - 1]}-{i.key.expiry.year}"
        writer.writerow(
            [
                exchange, ref.token, i.lot_size, str(i.underlying), ref.symbol, expiry,
                "OPTIDX", str(i.option_type), format_strike(i.strike), str(i.tick_size), "",
            ]
        )  # fmt: skip
    return out.getvalue()
