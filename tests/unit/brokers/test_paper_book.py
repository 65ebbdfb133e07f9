"""The paper book's matching rules and its broker port, on an in-memory store with the same
conditional-write contract as the table (tests/integration/test_paper_book.py runs the table)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, time
from decimal import Decimal

import pytest

from chalicelib.adapters.brokers.paper_book import PaperBookBroker
from chalicelib.domain import paper_matching as pm
from chalicelib.domain.calendar import IST
from chalicelib.domain.instrument import ContractKey, Instrument
from chalicelib.domain.protection import Band
from chalicelib.domain.symbols import kite_symbol
from chalicelib.domain.underlying import Exchange, OptionType, Underlying
from chalicelib.ports.broker import (
    Modification,
    OrderRequest,
    OrderStatus,
    OrderType,
    Product,
    Side,
)

D = Decimal
DAY = date(2026, 11, 26)
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=IST)
KEY = ContractKey(Underlying.NIFTY, date(2026, 12, 1), D(26000), OptionType.CE)
NIFTY_CE = Instrument(KEY, Exchange.NFO, 75, D("0.05"))
BAND = Band(threshold=D(50), pct_above=D(40), abs_below=D(20))


def order(side: str = "BUY", qty: int = 150, price: str = "100", **kw: object) -> pm.BookOrder:
    base = pm.BookOrder(
        order_id="1",
        tag="T1",
        symbol="NIFTY25DEC26000CE",
        side=side,
        quantity=qty,
        lot_size=75,
        order_type=pm.LIMIT,
        price=D(price),
        trigger=None,
        status=pm.OPEN,
        trading_day=DAY,
    )
    return pm.opened(replace(base, **kw))  # type: ignore[arg-type]


# ------------------------------------------------------------------------- matching rules
def test_a_limit_buy_fills_at_the_offer_only_when_the_offer_is_at_or_below_its_limit():
    resting = order(price="100")
    assert pm.match(resting, pm.BookQuote(D(101), ask=D("100.5"))).filled_quantity == 0
    filled = pm.match(resting, pm.BookQuote(D(99), ask=D("99.5")))
    assert (filled.status, filled.filled_quantity, filled.average_price) == (
        pm.COMPLETE,
        150,
        D("99.5"),
    )
    # no depth: the last price stands in for the offer
    assert pm.match(resting, pm.BookQuote(D("100"))).average_price == D(100)


def test_a_limit_sell_fills_on_the_bid():
    resting = order("SELL", price="100")
    assert pm.match(resting, pm.BookQuote(D(101), bid=D("99.95"))).status == pm.OPEN
    assert pm.match(resting, pm.BookQuote(D(99), bid=D("100.1"))).average_price == D("100.1")


def test_fills_follow_the_quoted_size_in_whole_lots_and_average_across_looks():
    resting = order(qty=300, price="100")
    first = pm.match(resting, pm.BookQuote(D(99), ask=D(98), ask_size=100))  # one lot of 75
    assert (first.status, first.filled_quantity) == (pm.OPEN, 75)
    second = pm.match(first, pm.BookQuote(D(99), ask=D(99), ask_size=1000))
    assert (second.status, second.filled_quantity) == (pm.COMPLETE, 300)
    assert second.average_price == D("98.75")  # (75 x 98 + 225 x 99) / 300
    assert pm.match(resting, pm.BookQuote(D(99), ask=D(98), ask_size=50)).filled_quantity == 0


def test_a_sell_stop_rests_until_the_last_price_falls_to_its_trigger_then_is_a_limit():
    stop = order("SELL", price="80", order_type=pm.SL_LIMIT, trigger=D("82"))
    assert stop.status == pm.TRIGGER_PENDING
    assert pm.match(stop, pm.BookQuote(D("82.05"))) == stop
    hit = pm.match(stop, pm.BookQuote(D("81"), bid=D("79")))  # triggered, bid below the limit
    assert (hit.status, hit.triggered, hit.filled_quantity) == (pm.OPEN, True, 0)
    assert pm.match(hit, pm.BookQuote(D("81"))).status == pm.COMPLETE


def test_a_buy_stop_triggers_at_or_above_its_trigger():
    stop = order("BUY", price="125", order_type=pm.SL_LIMIT, trigger=D("120"))
    assert pm.match(stop, pm.BookQuote(D("119.95"))).status == pm.TRIGGER_PENDING
    done = pm.match(stop, pm.BookQuote(D("120")))
    assert (done.status, done.average_price) == (pm.COMPLETE, D(120))


def test_the_band_refuses_limits_too_far_from_the_last_price():
    pm.check_band("BUY", D(140), D(100), BAND)
    with pytest.raises(pm.OutsideBand):
        pm.check_band("BUY", D("140.05"), D(100), BAND)
    with pytest.raises(pm.OutsideBand):
        pm.check_band("SELL", D("9.95"), D(30), BAND)  # +-20 rupees at or below 50


def test_a_day_order_lapses_after_its_day_and_positions_net_the_fills():
    close = time(15, 30)
    assert (
        pm.lapse(order(), datetime(2026, 11, 27, 9, 15, tzinfo=IST), close).status == pm.CANCELLED
    )
    assert (
        pm.lapse(order(), datetime(2026, 11, 26, 15, 30, tzinfo=IST), close).status == pm.CANCELLED
    )
    assert pm.lapse(order(), datetime(2026, 11, 26, 15, 29, tzinfo=IST), close).status == pm.OPEN
    fills = [
        replace(order(qty=150), filled_quantity=150, average_price=D(100), status=pm.COMPLETE),
        replace(order("SELL", 75), filled_quantity=75, average_price=D(120), status=pm.COMPLETE),
    ]
    assert pm.net_positions(fills) == [pm.NetPosition("NIFTY25DEC26000CE", 75, D(100))]


# ------------------------------------------------------------------------- the broker port
class MemoryBook:
    """The store contract: conditional create and save on the version read."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, str], tuple[pm.BookOrder, str]] = {}
        self.before_save: list = []

    def read(self, uid: str, account_id: str, order_id: str):
        return self.rows.get((uid, account_id, order_id))

    def create(self, uid, account_id, order, contract) -> bool:
        if (uid, account_id, order.order_id) in self.rows:
            return False
        self.rows[(uid, account_id, order.order_id)] = (order, contract)
        return True

    def save(self, uid, account_id, order, contract) -> bool:
        while self.before_save:
            self.before_save.pop(0)()
        stored, _ = self.rows[(uid, account_id, order.order_id)]
        if stored.version != order.version:
            return False
        self.rows[(uid, account_id, order.order_id)] = (
            replace(order, version=order.version + 1),
            contract,
        )
        return True

    def day(self, uid, account_id, on) -> list[pm.BookOrder]:
        return [
            o for (u, a, _), (o, _c) in self.rows.items()
            if (u, a) == (uid, account_id) and o.trading_day == on
        ]  # fmt: skip


class Feed:
    def __init__(self, price: str | None) -> None:
        self.price = D(price) if price else None

    def quotes(self, instruments: Sequence[Instrument]) -> Mapping[ContractKey, Decimal]:
        return {i.key: self.price for i in instruments if self.price is not None}


def request(side=Side.BUY, price="110", order_type=OrderType.LIMIT, trigger=None, tag="T1"):
    return OrderRequest(
        NIFTY_CE, side, 150, Product.MIS, order_type, D(price), tag,
        D(trigger) if trigger else None,
    )  # fmt: skip


def book(store: MemoryBook, feed: Feed | None) -> PaperBookBroker:
    return PaperBookBroker(store, "u1", "a1", feed, now=lambda: NOW, band_for=lambda _d: BAND)


def test_a_marketable_order_fills_at_once_and_reads_back_like_a_broker_order():
    store, feed = MemoryBook(), Feed("100")
    broker = book(store, feed)
    ack = broker.place(request())
    state = broker.status(ack.order_id)
    assert (state.status, state.filled_quantity, state.average_price) == (
        OrderStatus.COMPLETE,
        150,
        D(100),
    )
    assert state.symbol == kite_symbol(KEY)  # paper speaks Kite's symbols
    assert [s.order_id for s in broker.find_by_tag("T1")] == [ack.order_id]
    assert [(p.net_quantity, p.average_price) for p in broker.positions()] == [(150, D(100))]


def test_a_resting_limit_fills_when_a_later_look_sees_the_price():
    store, feed = MemoryBook(), Feed("120")
    broker = book(store, feed)
    ack = broker.place(request(price="110"))
    assert broker.status(ack.order_id).status is OrderStatus.OPEN
    feed.price = D("109")
    assert broker.order_book()[0].status is OrderStatus.COMPLETE


def test_without_a_quote_or_inside_no_band_the_order_is_recorded_rejected_with_the_reason():
    store = MemoryBook()
    unpriced = book(store, None).place(request(tag="A"))
    assert "quote source" in book(store, None).status(unpriced.order_id).message
    far = book(store, Feed("50")).place(request(price="90", tag="B"))  # band 30-70
    state = book(store, Feed("50")).status(far.order_id)
    assert state.status is OrderStatus.REJECTED and "band" in state.message


def test_cancel_and_modify_act_on_what_has_not_filled():
    store, feed = MemoryBook(), Feed("120")
    broker = book(store, feed)
    ack = broker.place(request(price="110"))
    broker.modify(ack.order_id, Modification(price=D("121")), request=request())
    assert broker.status(ack.order_id).status is OrderStatus.COMPLETE
    other = broker.place(request(price="110", tag="T2"))
    broker.cancel(other.order_id)
    assert broker.status(other.order_id).status is OrderStatus.CANCELLED
    feed.price = D("100")
    assert broker.status(other.order_id).filled_quantity == 0


class DepthFeed(Feed):
    """Offers one lot (75) at the price on every look."""

    def depth(self, instruments: Sequence[Instrument]) -> Mapping[ContractKey, pm.BookQuote]:
        assert self.price is not None
        return {i.key: pm.BookQuote(self.price, ask=self.price, ask_size=75) for i in instruments}


def test_two_actors_looking_at_once_never_fill_the_same_order_twice():
    store, feed = MemoryBook(), DepthFeed("120")
    ack = book(store, feed).place(request(price="110"))  # 2 lots, resting
    feed.price = D("105")
    settlement, monitor = book(store, feed), book(store, feed)
    # the monitor reads (nothing filled) and matches one lot; before it writes, the settlement
    # poll fills a lot and writes. The monitor's write must lose, and its re-read match the
    # new state: one more lot, not the same lot again over the settlement's.
    store.before_save.append(lambda: settlement.status(ack.order_id))
    state = monitor.status(ack.order_id)
    assert (state.status, state.filled_quantity) == (OrderStatus.COMPLETE, 150)
    stored, _ = store.rows[("u1", "a1", ack.order_id)]
    assert (stored.filled_quantity, stored.version) == (150, 2)  # two fills, two writes
    assert [p.net_quantity for p in settlement.positions()] == [150]


def test_a_stop_loss_order_triggers_on_the_price_path():
    store, feed = MemoryBook(), Feed("100")
    broker = book(store, feed)
    ack = broker.place(request(Side.BUY, "135", OrderType.SL_LIMIT, trigger="130"))
    for price, status in (("125", "TRIGGER_PENDING"), ("129.95", "TRIGGER_PENDING")):
        feed.price = D(price)
        assert broker.status(ack.order_id).status == status
    feed.price = D("131")
    done = broker.status(ack.order_id)
    assert (done.status, done.average_price) == (OrderStatus.COMPLETE, D(131))


def test_the_platform_book_is_the_default_paper_engine_and_a_typo_fails_at_start():
    from chalicelib.settings import Settings

    assert Settings.from_env({}).paper_engine == "book"
    assert Settings.from_env({"PAPER_ENGINE": "SIM"}).paper_engine == "sim"
    with pytest.raises(ValueError, match="PAPER_ENGINE"):
        Settings.from_env({"PAPER_ENGINE": "simulator"})


def test_a_live_accounts_quotes_are_kept_a_second_and_a_failed_look_leaves_the_order_resting():
    from chalicelib.paper_wiring import RecentQuotes
    from chalicelib.ports.broker_errors import RateLimited

    calls: list[int] = []

    class Limited(Feed):
        def quotes(self, instruments):
            calls.append(len(instruments))
            if self.price is None:
                raise RateLimited("Too many requests", broker="zerodha")
            return super().quotes(instruments)

    clock = [0.0]
    source = Limited("100")
    recent = RecentQuotes(source, ttl=1.0, monotonic=lambda: clock[0])
    assert recent.quotes([NIFTY_CE]) == {KEY: D(100)} == recent.quotes([NIFTY_CE])
    assert len(calls) == 1
    source.price, clock[0] = None, 1.5
    store = MemoryBook()
    broker = book(store, recent)
    ack = broker.place(request(price="110"))  # the quote account answered 429
    assert broker.status(ack.order_id).status is OrderStatus.OPEN  # accepted, not rejected
    source.price, clock[0] = D("105"), 3.0
    assert broker.status(ack.order_id).status is OrderStatus.COMPLETE


def test_an_order_above_the_freeze_limit_is_refused_as_the_exchange_would():
    store = MemoryBook()
    strict = PaperBookBroker(
        store, "u1", "a1", Feed("100"), now=lambda: NOW, band_for=lambda _d: BAND,
        freeze_for=lambda _i, _d: 75,
    )  # fmt: skip
    state = strict.status(strict.place(request()).order_id)  # 150 units, freeze 75
    assert state.status is OrderStatus.REJECTED and "freeze limit 75" in state.message
    assert (
        book(store, Feed("100"))
        .status(book(store, Feed("100")).place(request(tag="T2")).order_id)
        .status
        is OrderStatus.COMPLETE
    )  # the dated data: 150 is fine


def test_a_paper_book_is_a_users_live_quote_source_only_through_a_kite_quote_source():
    from chalicelib.paper_wiring import RecentQuotes, quotes_indices

    class KiteLike(Feed):
        def index_ltp(self, names):
            return {n: D(26000) for n in names}

    assert not quotes_indices(book(MemoryBook(), None))  # no source: the user's Zerodha is used
    assert not quotes_indices(book(MemoryBook(), Feed("100")))  # an LTP-only dialect
    assert quotes_indices(book(MemoryBook(), RecentQuotes(KiteLike("100"))))
    assert quotes_indices(object())  # any live adapter


def test_the_margin_of_a_paper_basket_is_what_the_quote_accounts_broker_says():
    from chalicelib.ports.broker_errors import Unavailable

    class WithMargin(Feed):
        def basket_margin(self, requests):
            return D(150_000) * len(requests)

    assert book(MemoryBook(), WithMargin("100")).basket_margin([request()]) == D(150_000)
    assert book(MemoryBook(), None).funds() == D(10_000_000)
    with pytest.raises(Unavailable, match="margin endpoint"):
        book(MemoryBook(), Feed("100")).basket_margin([request()])
