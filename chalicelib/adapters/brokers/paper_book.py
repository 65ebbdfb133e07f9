"""The paper broker: orders rest and fill in a book the platform owns, priced from live quotes.

A deployment on AWS has no simulated exchange, so a paper account cannot be a dialect pointed at
one. Instead this adapter implements the broker port itself: placements go into the paper book
(``PaperBookStore``: the DynamoDB table on every deployment, so it works on Lambda and survives
restarts) and are matched by ``domain/paper_matching.py`` against the quotes of the moment,
whenever the platform looks (placement, ``status``, ``order_book``, ``find_by_tag``: the
settlement poll, the recovery sweep, the risk monitor) and on the periodic sweep
(``jobs/paper.py``). Quotes come from the paper account's quote source: one of the same user's
live broker accounts (``quote_account_id``), or locally the simulated exchange.

Everything above the port (execution store, settlement, recovery by tag, risk stops, kill
switch) is the live code path; only the matching is simulated. A refusal (no quote, a limit
outside the exchange's band, a quantity above the freeze limit) is an accepted order that ends REJECTED with the reason, as a
broker's RMS reports it, so the order is recorded like any other.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from decimal import Decimal
from typing import Protocol, Self

from chalicelib.adapters.brokers.conversions import broker_ref
from chalicelib.domain import paper_matching as pm
from chalicelib.domain.brokers import PAPER
from chalicelib.domain.calendar import IST, default_calendar
from chalicelib.domain.contracts import default_contract_rules
from chalicelib.domain.instrument import Broker as DomainBroker
from chalicelib.domain.instrument import ContractKey, Instrument
from chalicelib.domain.market_errors import MarketDataError, MarketRuleError
from chalicelib.domain.protection import Band, default_protection_policies
from chalicelib.domain.reference_data import in_force
from chalicelib.domain.underlying import Exchange, OptionType, Underlying
from chalicelib.errors import DomainError
from chalicelib.ports.broker import (
    Modification,
    OrderAck,
    OrderRequest,
    OrderState,
    OrderStatus,
    Position,
    Session,
    Side,
)
from chalicelib.ports.broker_errors import (
    BrokerError,
    InvalidOrder,
    OrderNotFound,
    Unavailable,
)

NAME = PAPER.name
ATTEMPTS = 8  # re-reads after a lost conditional write before giving up (Unavailable)
#: A quote source that failed this time (rate limit, timeout, expired session): the order is
#: accepted and rests unmatched until a look gets a price; it is never rejected for that.
TRANSIENT = "quote source unavailable: "
PAPER_CAPITAL = Decimal("10000000")  # one crore of notional funds for the margin check
FALLBACK_CLOSE = time(15, 30)  # the F&O close when no dated session hours are known


class PaperBookStore(Protocol):
    """Storage of the paper book; every write is conditional (see ``dynamo/paper_items.py``)."""

    def read(self, uid: str, account_id: str, order_id: str) -> tuple[pm.BookOrder, str] | None:
        """The order (strongly consistent) and its stored contract text."""
        ...

    def create(self, uid: str, account_id: str, order: pm.BookOrder, contract: str) -> bool: ...

    def save(self, uid: str, account_id: str, order: pm.BookOrder, contract: str) -> bool: ...

    def day(self, uid: str, account_id: str, on: date) -> list[pm.BookOrder]: ...


class QuoteFeed(Protocol):
    """What the book needs from its quote source (any broker adapter has ``quotes``; one with
    ``depth`` gives the best bid/offer and sizes, which partial fills follow)."""

    def quotes(self, instruments: Sequence[Instrument]) -> Mapping[ContractKey, Decimal]: ...


def contract_text(instrument: Instrument) -> str:
    """The instrument in one stored string: enough to quote it again at the next look."""
    k = instrument.key
    return "|".join(
        (
            str(k.underlying),
            k.expiry.isoformat(),
            str(k.strike),
            str(k.option_type),
            str(instrument.exchange),
            str(instrument.lot_size),
            str(instrument.tick_size),
        )
    )


def instrument_of(text: str) -> Instrument:
    underlying, expiry, strike, kind, exchange, lot, tick = text.split("|")
    key = ContractKey(
        Underlying(underlying), date.fromisoformat(expiry), Decimal(strike), OptionType(kind)
    )
    return Instrument(key, Exchange(exchange), int(lot), Decimal(tick))


@dataclass
class PaperBookBroker:
    """The broker port of one paper account on the platform's own book."""

    store: PaperBookStore
    uid: str
    account_id: str
    feed: QuoteFeed | None
    now: Callable[[], datetime]
    #: Why there is no feed (shown in the rejection of every order until one is chosen).
    no_feed_reason: str = "the paper account has no quote source"
    band_for: Callable[[date], Band] | None = None
    freeze_for: Callable[[Instrument, date], int | None] | None = None
    name: str = NAME

    # ----------------------------------------------------------------- session (none needed)
    def with_session(self, session: Session) -> Self:
        return self

    def warm(self) -> None:
        """Nothing to connect to: the book is the table."""

    def login_url(self, state: str) -> str:
        raise InvalidOrder("a paper account needs no login", broker=self.name)

    def exchange_code(self, code: str) -> Session:
        raise InvalidOrder("a paper account needs no login", broker=self.name)

    def instruments(self) -> bytes:
        raise InvalidOrder("the paper book has no instrument master of its own", broker=self.name)

    # ----------------------------------------------------------------- orders
    def place(self, request: OrderRequest) -> OrderAck:
        today = self._today()
        order = pm.BookOrder(
            order_id=f"{today:%Y%m%d}{secrets.token_hex(6)}",
            tag=request.tag,
            symbol=broker_ref(request.instrument, DomainBroker.KITE, self.name).symbol,
            side=str(request.side),
            quantity=request.quantity,
            lot_size=request.instrument.lot_size,
            order_type=str(request.order_type),
            price=request.price,
            trigger=request.trigger,
            status=pm.OPEN,
            trading_day=today,
        )
        quote, refusal = self._quote(request.instrument)
        freeze = self._freeze(request.instrument, today)
        if freeze and request.quantity > freeze:  # the exchange refuses; the platform slices
            quote, refusal = None, f"quantity {request.quantity} exceeds the freeze limit {freeze}"
        if refusal is None and quote is not None:
            refusal = self._band_refusal(order, quote, today)
        if refusal is not None and not refusal.startswith(TRANSIENT):
            order = replace(order, status=pm.REJECTED, message=refusal)
        else:  # a quote source that failed for now (429, timeout): rest until the next look
            order = pm.match(pm.opened(order), quote)
        if not self.store.create(
            self.uid, self.account_id, order, contract_text(request.instrument)
        ):
            raise Unavailable("paper order id collided; not placed", broker=self.name)
        return OrderAck(order.order_id, tag=request.tag)

    def status(self, order_id: str) -> OrderState:
        return _state(self._look(order_id, lambda order, quote: pm.match(order, quote)))

    def cancel(self, order_id: str) -> OrderAck:
        order = self._look(order_id, lambda order, quote: pm.cancel(pm.match(order, quote)))
        return OrderAck(order.order_id, tag=order.tag)

    def modify(self, order_id: str, change: Modification, *, request: OrderRequest) -> OrderAck:
        def apply(order: pm.BookOrder, quote: pm.BookQuote | None) -> pm.BookOrder:
            current = pm.match(order, quote)
            if current.terminal:
                return current
            changed = replace(
                current,
                quantity=change.quantity or current.quantity,
                price=change.price if change.price is not None else current.price,
                trigger=change.trigger if change.trigger is not None else current.trigger,
                order_type=str(change.order_type or current.order_type),
            )
            if changed.order_type == pm.LIMIT:
                changed = replace(changed, trigger=None, triggered=True, status=pm.OPEN)
            if changed.quantity < changed.filled_quantity:
                raise InvalidOrder("quantity below what has filled", broker=self.name)
            if quote is not None:
                refusal = self._band_refusal(changed, quote, self._today())
                if refusal is not None:
                    raise InvalidOrder(refusal, broker=self.name)
            return pm.match(changed, quote)

        order = self._look(order_id, apply)
        return OrderAck(order.order_id, tag=order.tag)

    def order_book(self) -> Sequence[OrderState]:
        today = self._today()
        orders = self.store.day(self.uid, self.account_id, today)
        return [
            _state(self._look(o.order_id, lambda order, quote: pm.match(order, quote)))
            if not o.terminal
            else _state(o)
            for o in orders
        ]

    def find_by_tag(self, tag: str) -> Sequence[OrderState]:
        return [s for s in self.order_book() if s.tag == tag]

    def positions(self) -> Sequence[Position]:
        orders = self.store.day(self.uid, self.account_id, self._today())
        return [
            Position(p.symbol, None, p.net_quantity, p.average_price, exchange="")
            for p in pm.net_positions(orders)
        ]

    # ----------------------------------------------------------------- margin
    def basket_margin(self, requests: Sequence[OrderRequest]) -> Decimal:
        """What the basket would block live: the quote account's broker is asked for the same
        basket (its own SPAN figure); a source without a margin endpoint cannot say, which the
        margin check records as unchecked rather than guessing."""
        ask = getattr(self.feed, "basket_margin", None)
        if not callable(ask):
            raise Unavailable(
                f"{self.name}: the quote source has no margin endpoint",
                broker=self.name,
                code="margin_unsupported",
                retryable=False,
            )
        required: Decimal = ask(requests)
        return required

    def funds(self) -> Decimal:
        """A paper account's notional capital (the simulator opens paper accounts with the same
        one crore), so only a basket no account of that size could carry is refused."""
        return PAPER_CAPITAL

    # ----------------------------------------------------------------- quotes
    def quotes(self, instruments: Sequence[Instrument]) -> Mapping[ContractKey, Decimal]:
        if self.feed is None:
            raise MarketDataError(self.no_feed_reason, field="quote_account_id")
        try:
            return self.feed.quotes(instruments)
        except BrokerError as error:  # the quote account's trouble is missing market data here
            raise MarketDataError(f"quote source: {error}", field="quote_account_id") from error

    def index_ltp(self, names: Sequence[str]) -> Mapping[str, Decimal]:
        """Spot levels through the quote source, when it speaks Kite's index names (the
        planner's live spot is Kite-dialect today)."""
        reader = getattr(self.feed, "index_ltp", None)
        if reader is None:
            raise MarketDataError(
                f"{self.no_feed_reason if self.feed is None else 'the quote source'} gives no "
                "index levels (a Zerodha account does)",
                field="quote_account_id",
            )
        try:
            result: Mapping[str, Decimal] = reader(names)
        except BrokerError as error:
            raise MarketDataError(f"quote source: {error}", field="quote_account_id") from error
        return result

    # ----------------------------------------------------------------- internals
    def _today(self) -> date:
        return self.now().astimezone(IST).date()

    def _quote(self, instrument: Instrument) -> tuple[pm.BookQuote | None, str | None]:
        """The contract's quote now, or why there is none (never raised: a look must go on)."""
        if self.feed is None:
            return None, self.no_feed_reason
        try:
            depth = getattr(self.feed, "depth", None)
            if depth is not None:
                found = depth([instrument]).get(instrument.key)
                return found, None if found else f"no quote for {instrument.key}"
            price = self.feed.quotes([instrument]).get(instrument.key)
        except (BrokerError, DomainError) as error:
            return None, f"{TRANSIENT}{error}"
        if price is None or price <= 0:
            return None, f"no quote for {instrument.key}"
        return pm.BookQuote(ltp=price), None

    def _close(self, day: date) -> time:
        try:
            return default_calendar().fo_session_bounds(day)[1]
        except MarketRuleError:
            return FALLBACK_CLOSE

    def _freeze(self, instrument: Instrument, on: date) -> int | None:
        if self.freeze_for is not None:
            return self.freeze_for(instrument, on)
        try:
            return default_contract_rules().freeze_qty(instrument.key.underlying, on)
        except (DomainError, MarketRuleError):
            return None  # no dated limit known: the exchange's check cannot be applied

    def _band_refusal(self, order: pm.BookOrder, quote: pm.BookQuote, on: date) -> str | None:
        band = (
            self.band_for(on)
            if self.band_for
            else in_force(default_protection_policies(), on, "protection policy").band
        )
        try:
            pm.check_band(order.side, order.price, quote.ltp, band)
        except pm.OutsideBand as error:
            return str(error)
        return None

    def _look(
        self,
        order_id: str,
        step: Callable[[pm.BookOrder, pm.BookQuote | None], pm.BookOrder],
    ) -> pm.BookOrder:
        """Read, apply ``step`` with the quote of now, write conditionally; re-read on a lost
        race, so two actors looking at once never both fill the same quantity."""
        for _ in range(ATTEMPTS):
            found = self.store.read(self.uid, self.account_id, order_id)
            if found is None:
                raise OrderNotFound(f"no paper order {order_id}", broker=self.name)
            order, contract = found
            now = self.now().astimezone(IST)
            lapsed = pm.lapse(order, now, self._close(order.trading_day))
            quote = None
            if not lapsed.terminal and self.feed is not None:
                quote, _why = self._quote(instrument_of(contract))
            after = step(lapsed, quote)
            if after == order:
                return order
            if self.store.save(self.uid, self.account_id, after, contract):
                return replace(after, version=order.version + 1)
        raise Unavailable(f"paper order {order_id} kept changing; look again", broker=NAME)


_STATUS = {
    pm.OPEN: OrderStatus.OPEN,
    pm.TRIGGER_PENDING: OrderStatus.TRIGGER_PENDING,
    pm.COMPLETE: OrderStatus.COMPLETE,
    pm.CANCELLED: OrderStatus.CANCELLED,
    pm.REJECTED: OrderStatus.REJECTED,
}


def _state(order: pm.BookOrder) -> OrderState:
    return OrderState(
        order_id=order.order_id,
        status=_STATUS[order.status],
        quantity=order.quantity,
        filled_quantity=order.filled_quantity,
        average_price=order.average_price,
        tag=order.tag,
        symbol=order.symbol,
        side=Side(order.side),
        message=order.message,
        broker_status=order.status,
    )
