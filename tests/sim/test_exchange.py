"""The simulated exchange: deterministic prices, listings from the market model, matching, P&L."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from chalicelib.domain.instrument import Broker
from chalicelib.domain.money import TICK, Rounding, is_on_tick, snap_to_tick
from chalicelib.domain.underlying import Exchange, OptionType, Underlying
from sim.clock import ManualClock
from sim.errors import OrderRefused
from sim.exchange import SimExchange
from sim.orderbook import OrderRequest, OrderType, Status
from tests.sim.conftest import MORNING


def nifty_atm(ex: SimExchange, option_type: OptionType = OptionType.CE):
    spot = ex.spot("NIFTY")
    expiry = min(i.expiry for i in ex.instruments() if i.underlying is Underlying.NIFTY)
    chain = [
        i
        for i in ex.instruments()
        if i.underlying is Underlying.NIFTY and i.expiry == expiry and i.option_type is option_type
    ]
    return min(chain, key=lambda i: abs(i.strike - spot))


def limit(instrument, side: str, price: Decimal, qty: int | None = None, **kw) -> OrderRequest:
    return OrderRequest(
        instrument.refs[Broker.KITE].symbol,
        side,
        qty or instrument.lot_size,
        OrderType.LIMIT,
        price,
        **kw,
    )


class TestPrices:
    def test_same_seed_and_time_give_the_same_prices(self, clock):
        a, b = SimExchange(seed=7, clock=clock), SimExchange(seed=7, clock=clock)
        key = nifty_atm(a).key
        assert a.ltp(key) == b.ltp(key)
        assert a.spot("SENSEX") == b.spot("SENSEX")

    def test_another_seed_gives_another_market(self, clock):
        assert SimExchange(seed=7, clock=clock).spot("NIFTY") != SimExchange(
            seed=8, clock=clock
        ).spot("NIFTY")

    def test_prices_move_with_the_clock_and_stay_on_the_tick(self, exchange, clock):
        key = nifty_atm(exchange).key
        seen = set()
        for _ in range(30):
            price = exchange.ltp(key)
            assert price >= TICK and is_on_tick(price)
            seen.add(price)
            clock.advance(minutes=1)
        assert len(seen) > 5

    def test_price_depends_only_on_time(self, exchange, clock):
        key = nifty_atm(exchange).key
        later = MORNING + timedelta(minutes=37, seconds=12)
        expected = exchange.price(key, later)
        clock.set(later)
        assert SimExchange(seed=7, clock=clock).ltp(key) == expected

    def test_smile_and_put_call_shape(self, exchange):
        ce, pe = nifty_atm(exchange, OptionType.CE), nifty_atm(exchange, OptionType.PE)
        assert Decimal(5) < exchange.ltp(ce.key) < Decimal(1000)
        assert Decimal(5) < exchange.ltp(pe.key) < Decimal(1000)

    def test_ltp_by_every_broker_name(self, exchange):
        instrument = nifty_atm(exchange)
        price = exchange.ltp(instrument.key)
        for ref in instrument.refs.values():
            assert exchange.ltp(ref.symbol) == price
            assert exchange.ltp(ref.token) == price
        assert exchange.ltp("NFO:" + instrument.refs[Broker.KITE].symbol) == price
        assert exchange.ltp("NSE:NIFTY 50") == exchange.spot("NIFTY")


class TestListing:
    def test_real_lots_exchanges_and_strike_grid(self, exchange):
        by_underlying = {}
        for i in exchange.instruments():
            by_underlying.setdefault(i.underlying, i)
        assert set(by_underlying) == {
            Underlying.NIFTY,
            Underlying.BANKNIFTY,
            Underlying.FINNIFTY,
            Underlying.MIDCPNIFTY,
            Underlying.SENSEX,
        }
        assert by_underlying[Underlying.NIFTY].lot_size == 65
        assert by_underlying[Underlying.BANKNIFTY].lot_size == 30
        assert by_underlying[Underlying.SENSEX].exchange is Exchange.BFO
        assert by_underlying[Underlying.SENSEX].lot_size == 20
        assert all(i.strike % 50 == 0 for i in exchange.instruments() if i.underlying == "NIFTY")

    def test_nifty_weeklies_expire_on_tuesdays(self, exchange):
        expiries = {i.expiry for i in exchange.instruments() if i.underlying is Underlying.NIFTY}
        # 2026-03-31 is a holiday (Tuesday): that expiry moves to Monday 03-30.
        assert all(d.weekday() == 1 or d.isoformat() == "2026-03-30" for d in expiries)


class TestMatching:
    def test_marketable_limit_fills_at_the_ltp(self, exchange):
        instrument = nifty_atm(exchange)
        ltp = exchange.ltp(instrument.key)
        order = exchange.place("AB1234", limit(instrument, "BUY", ltp + 2))
        assert order.status is Status.COMPLETE
        assert order.average_price == ltp
        [trade] = exchange.trades("AB1234")
        assert trade.price == ltp and trade.quantity == instrument.lot_size

    def test_resting_limit_fills_when_price_crosses(self, exchange, clock):
        instrument = nifty_atm(exchange)
        now_price = exchange.ltp(instrument.key)
        path = [exchange.price(instrument.key, MORNING + timedelta(minutes=m)) for m in range(240)]
        low = min(path)
        assert low < now_price
        target = snap_to_tick((now_price + low) / 2, TICK, Rounding.DOWN)
        order = exchange.place("AB1234", limit(instrument, "BUY", target))
        assert order.status is Status.OPEN
        for _ in range(240):
            clock.advance(minutes=1)
            if exchange.order("AB1234", order.order_id).status is Status.COMPLETE:
                break
        assert order.status is Status.COMPLETE
        assert order.average_price <= target

    def test_stop_limit_waits_for_its_trigger(self, exchange, clock):
        instrument = nifty_atm(exchange)
        now_price = exchange.ltp(instrument.key)
        path = [exchange.price(instrument.key, MORNING + timedelta(minutes=m)) for m in range(240)]
        trigger = snap_to_tick((now_price + min(path)) / 2, TICK, Rounding.DOWN)
        request = OrderRequest(
            instrument.refs[Broker.KITE].symbol,
            "SELL",
            instrument.lot_size,
            OrderType.SL,
            trigger - 5,
            trigger,
        )
        order = exchange.place("AB1234", request)
        assert order.status is Status.TRIGGER_PENDING
        for _ in range(240):
            clock.advance(minutes=1)
            if exchange.order("AB1234", order.order_id).status is not Status.TRIGGER_PENDING:
                break
        assert order.status is Status.COMPLETE
        assert [h["status"] for h in order.history] == ["TRIGGER_PENDING", "OPEN", "COMPLETE"]

    def test_partial_fills_by_configuration(self, clock):
        ex = SimExchange(clock=clock, partial_fill_lots=2)
        ex.open_account("A")
        instrument = nifty_atm(ex)
        ltp = ex.ltp(instrument.key)
        order = ex.place("A", limit(instrument, "BUY", ltp + 5, 5 * instrument.lot_size))
        assert order.status is Status.OPEN
        assert order.filled_quantity == 2 * instrument.lot_size
        ex.tick()
        ex.tick()
        assert order.status is Status.COMPLETE
        assert len(ex.trades("A")) == 3

    def test_ioc_remainder_is_cancelled(self, clock):
        ex = SimExchange(clock=clock, partial_fill_lots=1)
        ex.open_account("A")
        instrument = nifty_atm(ex)
        ltp = ex.ltp(instrument.key)
        order = ex.place(
            "A", limit(instrument, "BUY", ltp + 5, 3 * instrument.lot_size, validity="IOC")
        )
        assert order.status is Status.CANCELLED
        assert order.filled_quantity == instrument.lot_size

    def test_protected_market_fills_and_unprotected_is_refused(self, exchange):
        instrument = nifty_atm(exchange)
        symbol = instrument.refs[Broker.KITE].symbol
        with pytest.raises(OrderRefused) as refused:
            exchange.place(
                "AB1234", OrderRequest(symbol, "BUY", instrument.lot_size, OrderType.MARKET)
            )
        assert refused.value.code == "market_refused"
        order = exchange.place(
            "AB1234",
            OrderRequest(
                symbol, "BUY", instrument.lot_size, OrderType.MARKET, market_protection=Decimal(-1)
            ),
        )
        assert order.status is Status.COMPLETE

    def test_rms_refusals(self, exchange):
        instrument = nifty_atm(exchange)
        ltp = exchange.ltp(instrument.key)
        cases = [
            (limit(instrument, "BUY", ltp, 64), "lot_size"),
            (limit(instrument, "BUY", ltp, 65 * 28), "freeze_qty"),
            (limit(instrument, "BUY", ltp + Decimal("0.03")), "tick"),
        ]
        for request, code in cases:
            with pytest.raises(OrderRefused) as refused:
                exchange.place("AB1234", request)
            assert refused.value.code == code
        assert exchange.orders("AB1234") == []

    def test_price_band_rejects_after_the_ack(self, exchange):
        instrument = nifty_atm(exchange)
        ltp = exchange.ltp(instrument.key)
        order = exchange.place("AB1234", limit(instrument, "BUY", ltp * 3))
        assert order.status is Status.REJECTED and order.reject_code == "price_band"

    def test_margin_check_is_optional(self, clock):
        ex = SimExchange(clock=clock, check_margin=True)
        ex.open_account("A", funds=Decimal(1000))
        instrument = nifty_atm(ex)
        order = ex.place("A", limit(instrument, "SELL", ex.ltp(instrument.key)))
        assert order.status is Status.REJECTED and order.reject_code == "margin"

    def test_positions_and_pnl(self, exchange, clock):
        instrument = nifty_atm(exchange)
        entry = exchange.ltp(instrument.key)
        exchange.place("AB1234", limit(instrument, "SELL", entry - 1, 2 * instrument.lot_size))
        clock.advance(minutes=30)
        [position] = exchange.positions("AB1234")
        now = exchange.ltp(instrument.key)
        assert position.quantity == -2 * instrument.lot_size
        assert position.pnl == (entry - now) * 2 * instrument.lot_size
        exit_price = exchange.ltp(instrument.key)
        exchange.place("AB1234", limit(instrument, "BUY", exit_price + 1, 2 * instrument.lot_size))
        [closed] = exchange.positions("AB1234")
        assert closed.quantity == 0
        assert closed.realised == (entry - exit_price) * 2 * instrument.lot_size

    def test_modify_and_cancel(self, exchange):
        instrument = nifty_atm(exchange)
        ltp = exchange.ltp(instrument.key)
        order = exchange.place("AB1234", limit(instrument, "BUY", ltp - 3))
        assert order.status is Status.OPEN
        exchange.modify("AB1234", order.order_id, price=ltp + 1)
        assert order.status is Status.COMPLETE
        with pytest.raises(OrderRefused):
            exchange.cancel("AB1234", order.order_id)


class TestOrderFaults:
    def test_rms_reject_after_ack(self, exchange):
        instrument = nifty_atm(exchange)
        exchange.inject("AB1234", "rms_reject")
        order = exchange.place("AB1234", limit(instrument, "BUY", exchange.ltp(instrument.key)))
        assert order.status is Status.REJECTED and order.status_message.startswith("RMS")
        second = exchange.place("AB1234", limit(instrument, "BUY", exchange.ltp(instrument.key)))
        assert second.status is Status.COMPLETE

    def test_partial_fill_fault(self, exchange):
        instrument = nifty_atm(exchange)
        exchange.inject("AB1234", "partial_fill", ratio=0.25)
        order = exchange.place(
            "AB1234",
            limit(instrument, "BUY", exchange.ltp(instrument.key) + 1, 4 * instrument.lot_size),
        )
        assert order.status is Status.OPEN
        assert order.filled_quantity == instrument.lot_size
        exchange.cancel("AB1234", order.order_id)
        assert order.cancelled_quantity == 3 * instrument.lot_size

    def test_sl_cancelled_by_broker(self, exchange, clock):
        instrument = nifty_atm(exchange)
        ltp = exchange.ltp(instrument.key)
        exchange.inject("AB1234", "sl_cancelled")
        request = OrderRequest(
            instrument.refs[Broker.KITE].symbol,
            "BUY",
            instrument.lot_size,
            OrderType.SL,
            ltp + 2,
            ltp,
        )
        order = exchange.place("AB1234", request)
        assert order.status is Status.CANCELLED
        assert "cancelled by the broker" in order.status_message

    @pytest.mark.parametrize(
        ("fault", "code"),
        [
            ("freeze_qty", "freeze_qty"),
            ("lot_size", "lot_size"),
            ("duplicate_tag", "duplicate_tag"),
        ],
    )
    def test_refusal_faults(self, exchange, fault, code):
        instrument = nifty_atm(exchange)
        exchange.inject("AB1234", fault)
        with pytest.raises(OrderRefused) as refused:
            exchange.place("AB1234", limit(instrument, "BUY", exchange.ltp(instrument.key)))
        assert refused.value.code == code

    def test_market_refused_even_with_protection(self, exchange):
        instrument = nifty_atm(exchange)
        exchange.inject("AB1234", "market_refused")
        request = OrderRequest(
            instrument.refs[Broker.KITE].symbol,
            "BUY",
            instrument.lot_size,
            OrderType.MARKET,
            market_protection=Decimal(5),
        )
        with pytest.raises(OrderRefused):
            exchange.place("AB1234", request)
        assert exchange.place("AB1234", request).status is Status.COMPLETE


class TestPersistence:
    def test_state_survives_a_restart(self, tmp_path, clock):
        ex = SimExchange(seed=7, clock=clock, state_dir=tmp_path)
        ex.open_account("A")
        instrument = nifty_atm(ex)
        ltp = ex.ltp(instrument.key)
        filled = ex.place("A", limit(instrument, "BUY", ltp + 1, tag="leg1"))
        resting = ex.place("A", limit(instrument, "BUY", ltp - 10))
        assert (tmp_path / "exchange.json").exists()
        assert not list(tmp_path.glob("*.tmp"))

        again = SimExchange(seed=7, clock=clock, state_dir=tmp_path)
        assert again.accounts() == ["A"]
        orders = {o.order_id: o for o in again.orders("A")}
        assert orders[filled.order_id].status is Status.COMPLETE
        assert orders[filled.order_id].tag == "leg1"
        assert orders[resting.order_id].status is Status.OPEN
        assert again.positions("A")[0].quantity == instrument.lot_size
        third = again.place("A", limit(instrument, "BUY", ltp - 10))
        assert third.order_id not in orders

    def test_restart_with_a_moved_clock_matches_resting_orders(self, tmp_path):
        clock = ManualClock(MORNING)
        ex = SimExchange(seed=7, clock=clock, state_dir=tmp_path)
        ex.open_account("A")
        instrument = nifty_atm(ex)
        order = ex.place("A", limit(instrument, "BUY", ex.ltp(instrument.key) - Decimal("0.05")))
        clock.advance(hours=4)
        again = SimExchange(seed=7, clock=clock, state_dir=tmp_path)
        status = again.order("A", order.order_id).status
        assert status in (Status.OPEN, Status.COMPLETE)


def test_partial_fill_remainder_fills_after_the_hold(exchange, clock):
    instrument = nifty_atm(exchange)
    exchange.inject("AB1234", "partial_fill", hold=30)
    order = exchange.place(
        "AB1234",
        limit(instrument, "BUY", exchange.ltp(instrument.key) + 20, 2 * instrument.lot_size),
    )
    assert order.filled_quantity == instrument.lot_size
    clock.advance(seconds=31)
    assert exchange.order("AB1234", order.order_id).status is Status.COMPLETE
