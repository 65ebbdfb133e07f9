"""How a paper order fills against a quote: the exchange's rules, without the exchange.

A paper account's orders rest in a book the platform owns (``adapters/brokers/paper_book.py``)
and are matched whenever the platform looks at them, against the quote of that moment. The rules
are the ones a trader meets live, so a strategy forward-tested on paper behaves as it would:

- A LIMIT BUY fills when the offer (the last price when no depth is quoted) is at or below its
  limit, at that offer (price improvement, never worse than the limit); a SELL mirrors it on
  the bid.
- A stop-loss limit (SL_LIMIT) rests untriggered until the last price crosses its trigger (a
  BUY stop at or above the trigger, a SELL stop at or below); from then on it is a LIMIT.
- Fills come in whole lots and never exceed the size quoted on the matching side; without a
  quoted size the whole remainder fills. What is left stays OPEN for the next look.
- The exchange's limit-price band (``protection.Band``, the same dated data live orders are
  priced inside) refuses a limit too far from the last price, at placement and modification.
- Orders are DAY orders: one still open at its day's close has lapsed (cancelled, never filled).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time
from decimal import Decimal

from chalicelib.domain.protection import Band

BUY, SELL = "BUY", "SELL"
LIMIT, SL_LIMIT = "LIMIT", "SL_LIMIT"
OPEN, TRIGGER_PENDING = "OPEN", "TRIGGER_PENDING"
COMPLETE, CANCELLED, REJECTED = "COMPLETE", "CANCELLED", "REJECTED"
TERMINAL = frozenset({COMPLETE, CANCELLED, REJECTED})


@dataclass(frozen=True, slots=True)
class BookQuote:
    """A contract's quote at one moment: the last price, and the best bid/offer with sizes
    (units) when the quote source has depth."""

    ltp: Decimal
    bid: Decimal | None = None
    bid_size: int | None = None
    ask: Decimal | None = None
    ask_size: int | None = None


@dataclass(frozen=True, slots=True)
class BookOrder:
    """One paper order. ``version`` is the store's optimistic-lock counter."""

    order_id: str
    tag: str
    symbol: str
    side: str
    quantity: int
    lot_size: int
    order_type: str
    price: Decimal
    trigger: Decimal | None
    status: str
    trading_day: date
    filled_quantity: int = 0
    average_price: Decimal | None = None
    triggered: bool = False
    message: str = ""
    version: int = 0

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def remaining(self) -> int:
        return 0 if self.terminal else self.quantity - self.filled_quantity


class OutsideBand(ValueError):
    """A limit price the exchange would refuse: outside the band around the last price."""


def check_band(side: str, price: Decimal, ltp: Decimal, band: Band) -> None:
    """Refuse ``price`` outside the exchange's band around ``ltp`` (the protection rules)."""
    low, high = band.limits(ltp)
    if price > high or price < low:
        raise OutsideBand(
            f"{side} limit {price} is outside the exchange's band {max(low, Decimal(0))}"
            f"-{high} around the last price {ltp}"
        )


def opened(order: BookOrder) -> BookOrder:
    """The order as it rests after placement, before its first match."""
    status = TRIGGER_PENDING if order.order_type == SL_LIMIT else OPEN
    return replace(order, status=status, triggered=order.order_type != SL_LIMIT)


def lapse(order: BookOrder, now: datetime, close: time) -> BookOrder:
    """A DAY order still open at the close of its trading day (``close``, in ``now``'s zone) is
    cancelled, as the exchange does: it never fills later on a stale or next-day price."""
    if order.terminal:
        return order
    if now.date() < order.trading_day or (now.date() == order.trading_day and now.time() < close):
        return order
    return replace(order, status=CANCELLED, message="lapsed at the close of its trading day")


def match(order: BookOrder, quote: BookQuote | None) -> BookOrder:
    """The order after one look at ``quote``; unchanged when nothing fills or triggers."""
    if order.terminal or quote is None:
        return order
    current = order
    if not current.triggered:
        assert current.trigger is not None
        crossed = (
            quote.ltp >= current.trigger if current.side == BUY else quote.ltp <= current.trigger
        )
        if not crossed:
            return current
        current = replace(current, triggered=True, status=OPEN)
    if current.side == BUY:
        at, size = (quote.ask, quote.ask_size) if quote.ask is not None else (quote.ltp, None)
        marketable = at <= current.price
    else:
        at, size = (quote.bid, quote.bid_size) if quote.bid is not None else (quote.ltp, None)
        marketable = at >= current.price
    if not marketable or at <= 0:
        return current
    fill = current.remaining if size is None else min(current.remaining, size)
    fill -= fill % current.lot_size  # the exchange trades whole lots
    if fill <= 0:
        return current
    filled = current.filled_quantity + fill
    before = (current.average_price or Decimal(0)) * current.filled_quantity
    average = ((before + at * fill) / filled).quantize(Decimal("0.0001"))
    return replace(
        current,
        filled_quantity=filled,
        average_price=average,
        status=COMPLETE if filled == current.quantity else OPEN,
    )


def cancel(order: BookOrder) -> BookOrder:
    """Cancel what has not filled; a filled order stays COMPLETE."""
    if order.terminal:
        return order
    return replace(order, status=CANCELLED, message="cancelled by the user")


@dataclass(frozen=True, slots=True)
class NetPosition:
    """The day's net position in one symbol from the book's fills (units; negative = short)."""

    symbol: str
    net_quantity: int
    average_price: Decimal | None


def net_positions(orders: list[BookOrder]) -> list[NetPosition]:
    """Net quantity per symbol, priced at the average of the side that built it."""
    by_symbol: dict[str, list[BookOrder]] = {}
    for order in orders:
        if order.filled_quantity and order.average_price is not None:
            by_symbol.setdefault(order.symbol, []).append(order)
    out = []
    for symbol, fills in sorted(by_symbol.items()):
        bought = [(o.filled_quantity, o.average_price) for o in fills if o.side == BUY]
        sold = [(o.filled_quantity, o.average_price) for o in fills if o.side == SELL]
        qty_b, qty_s = sum(q for q, _ in bought), sum(q for q, _ in sold)
        net = qty_b - qty_s
        side = bought if net > 0 else sold
        qty = qty_b if net > 0 else qty_s
        average = (
            (sum(q * p for q, p in side if p is not None) / qty).quantize(Decimal("0.0001"))
            if net and qty
            else None
        )
        out.append(NetPosition(symbol, net, average))
    return out
