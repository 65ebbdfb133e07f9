"""Price control for scenario tests: ``SimExchange.set_price`` pins one contract's premium; every
read, match and quote follows the pin and resting orders re-match at once."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from chalicelib.domain.instrument import Broker
from chalicelib.domain.underlying import OptionType
from sim.clock import ManualClock
from sim.errors import OrderRefused
from sim.exchange import SimExchange
from sim.orderbook import OrderRequest, OrderType, Status
from tests.sim.conftest import MORNING
from tests.sim.test_exchange import limit, nifty_atm

D = Decimal


def stop(instrument, side: str, trigger: str, limit_price: str, **kw) -> OrderRequest:
    return OrderRequest(
        instrument.refs[Broker.KITE].symbol,
        side,
        instrument.lot_size,
        OrderType.SL,
        D(limit_price),
        D(trigger),
        **kw,
    )


class TestPins:
    def test_a_pin_holds_for_every_read_until_released(self, exchange, clock):
        instrument = nifty_atm(exchange)
        key = instrument.key
        model = exchange.ltp(key)
        pinned = model + D("10.00")
        assert exchange.set_price(key, pinned) == pinned
        assert exchange.pins() == {key: pinned}
        for ref in instrument.refs.values():
            assert exchange.ltp(ref.symbol) == pinned
            assert exchange.ltp(ref.token) == pinned
        assert exchange.price(key, MORNING + timedelta(hours=2)) == pinned
        clock.advance(minutes=45)
        assert exchange.ltp(key) == pinned
        # Only that contract: its neighbours keep the model price.
        other = nifty_atm(exchange, OptionType.PE).key
        assert exchange.ltp(other) == SimExchange(seed=7, clock=clock).ltp(other)

        released = exchange.set_price(key, None)
        assert exchange.pins() == {}
        assert released == exchange.ltp(key) == SimExchange(seed=7, clock=clock).ltp(key)

    def test_releasing_an_unpinned_contract_is_a_no_op(self, exchange):
        key = nifty_atm(exchange).key
        assert exchange.set_price(key, None) == exchange.ltp(key)

    @pytest.mark.parametrize("bad", [D("100.03"), D("0"), D("-5.00"), D("NaN"), "abc"])
    def test_off_tick_and_non_positive_prices_are_refused(self, exchange, bad):
        key = nifty_atm(exchange).key
        exchange.set_price(key, D("50.00"))
        with pytest.raises(ValueError):
            exchange.set_price(key, bad)
        assert exchange.pins() == {key: D("50.00")}

    def test_the_key_must_be_a_contract_key(self, exchange):
        with pytest.raises(TypeError):
            exchange.set_price(nifty_atm(exchange).refs[Broker.KITE].symbol, D("50.00"))

    def test_positions_are_marked_at_the_pin(self, exchange):
        instrument = nifty_atm(exchange)
        exchange.set_price(instrument.key, D("100.00"))
        sold = exchange.place("AB1234", limit(instrument, "SELL", D("99.00")))
        assert sold.status is Status.COMPLETE and sold.average_price == D("100.00")
        exchange.set_price(instrument.key, D("80.00"))
        [position] = exchange.positions("AB1234")
        assert position.last_price == D("80.00")
        assert position.pnl == D("20.00") * instrument.lot_size


class TestMatchingOnThePin:
    def test_pinning_through_a_stop_fires_it_at_once(self, exchange):
        instrument = nifty_atm(exchange)
        exchange.set_price(instrument.key, D("100.00"))
        order = exchange.place("AB1234", stop(instrument, "BUY", "110.00", "110.25"))
        assert order.status is Status.TRIGGER_PENDING
        exchange.set_price(instrument.key, D("109.95"))
        assert order.status is Status.TRIGGER_PENDING
        exchange.set_price(instrument.key, D("110.10"))  # no tick, no clock move
        assert order.status is Status.COMPLETE
        assert order.average_price == D("110.10")
        assert [h["status"] for h in order.history] == ["TRIGGER_PENDING", "OPEN", "COMPLETE"]
        [trade] = exchange.trades("AB1234")
        assert trade.price == D("110.10")

    def test_a_pin_beyond_the_limit_triggers_but_rests(self, exchange):
        instrument = nifty_atm(exchange)
        exchange.set_price(instrument.key, D("100.00"))
        order = exchange.place("AB1234", stop(instrument, "BUY", "110.00", "110.25"))
        exchange.set_price(instrument.key, D("120.00"))
        assert order.status is Status.OPEN and order.filled_quantity == 0
        exchange.set_price(instrument.key, D("110.20"))
        assert order.status is Status.COMPLETE and order.average_price == D("110.20")

    def test_a_sell_stop_fires_on_the_way_down(self, exchange):
        instrument = nifty_atm(exchange)
        exchange.set_price(instrument.key, D("100.00"))
        order = exchange.place("AB1234", stop(instrument, "SELL", "90.00", "89.75"))
        exchange.set_price(instrument.key, D("90.05"))
        assert order.status is Status.TRIGGER_PENDING
        exchange.set_price(instrument.key, D("89.95"))
        assert order.status is Status.COMPLETE and order.average_price == D("89.95")

    def test_the_sl_cancelled_fault_cancels_on_the_pinned_trigger(self, exchange):
        instrument = nifty_atm(exchange)
        exchange.set_price(instrument.key, D("100.00"))
        exchange.inject("AB1234", "sl_cancelled")
        order = exchange.place("AB1234", stop(instrument, "BUY", "110.00", "110.25"))
        assert order.status is Status.TRIGGER_PENDING
        exchange.set_price(instrument.key, D("110.10"))
        assert order.status is Status.CANCELLED
        assert "cancelled by the broker" in order.status_message
        assert exchange.trades("AB1234") == []

    def test_a_resting_limit_fills_when_pinned_through(self, exchange):
        instrument = nifty_atm(exchange)
        exchange.set_price(instrument.key, D("100.00"))
        order = exchange.place("AB1234", limit(instrument, "BUY", D("95.00")))
        assert order.status is Status.OPEN
        exchange.set_price(instrument.key, D("94.50"))
        assert order.status is Status.COMPLETE and order.average_price == D("94.50")

    def test_orders_are_admitted_against_the_pin(self, exchange):
        instrument = nifty_atm(exchange)
        exchange.set_price(instrument.key, D("10.00"))
        # Outside the band around the pinned LTP (+-20 at or below 50): rejected after the ack.
        order = exchange.place("AB1234", limit(instrument, "BUY", D("45.00")))
        assert order.status is Status.REJECTED and order.reject_code == "price_band"


class TestModifyOrderType:
    def test_a_stop_turned_limit_rests_and_a_limit_turned_stop_waits(self, exchange):
        instrument = nifty_atm(exchange)
        exchange.set_price(instrument.key, D("100.00"))
        order = exchange.place("AB1234", stop(instrument, "BUY", "110.00", "110.25"))
        exchange.modify("AB1234", order.order_id, order_type=OrderType.LIMIT, price=D("95.00"))
        assert order.status is Status.OPEN and order.order_type is OrderType.LIMIT
        exchange.modify(
            "AB1234",
            order.order_id,
            order_type=OrderType.SL,
            trigger_price=D("105.00"),
            price=D("105.25"),
        )
        assert order.status is Status.TRIGGER_PENDING
        assert [h["status"] for h in order.history][-2:] == ["OPEN", "TRIGGER_PENDING"]

    def test_a_refused_modification_changes_nothing(self, exchange):
        instrument = nifty_atm(exchange)
        exchange.set_price(instrument.key, D("100.00"))
        order = exchange.place("AB1234", limit(instrument, "BUY", D("95.00")))
        for change in (
            {"price": D("96.00"), "trigger_price": D("1.03")},
            {"price": D("96.00"), "order_type": OrderType.SL},  # a stop needs a trigger
            {"price": D("96.00"), "quantity": 0},
        ):
            with pytest.raises(OrderRefused):
                exchange.modify("AB1234", order.order_id, **change)
            assert (order.price, order.trigger_price, order.order_type) == (
                D("95.00"),
                D("0"),
                OrderType.LIMIT,
            )
            assert order.quantity == instrument.lot_size


class TestPersistence:
    def test_pins_survive_a_restart_and_so_does_their_release(self, tmp_path):
        clock = ManualClock(MORNING)
        ex = SimExchange(seed=7, clock=clock, state_dir=tmp_path)
        ex.open_account("A")
        instrument = nifty_atm(ex)
        ex.set_price(instrument.key, D("77.70"))
        order = ex.place("A", stop(instrument, "BUY", "80.00", "80.25"))

        again = SimExchange(seed=7, clock=clock, state_dir=tmp_path)
        assert again.pins() == {instrument.key: D("77.70")}
        assert again.ltp(instrument.key) == D("77.70")
        assert again.order("A", order.order_id).status is Status.TRIGGER_PENDING
        again.set_price(instrument.key, D("80.05"))
        assert again.order("A", order.order_id).status is Status.COMPLETE
        again.set_price(instrument.key, None)

        third = SimExchange(seed=7, clock=clock, state_dir=tmp_path)
        assert third.pins() == {}
        assert third.order("A", order.order_id).average_price == D("80.05")


class TestAdminRoute:
    def test_pin_and_release_over_http(self, start_server, exchange, http):
        server = start_server("kite")
        instrument = nifty_atm(exchange)
        url = f"{server.login_url_base}/_sim/price"
        symbol = instrument.refs[Broker.KITE].symbol
        reply = http.post(url, json={"instrument": symbol, "price": "123.45"})
        assert reply.status_code == 200, reply.text
        assert reply.json() == {"instrument": symbol, "ltp": "123.45", "pinned": True}
        assert exchange.ltp(instrument.key) == D("123.45")
        by_token = http.post(url, json={"instrument": instrument.refs[Broker.DHAN].token})
        assert by_token.json()["pinned"] is False
        assert exchange.pins() == {}
        for bad in (
            {"instrument": symbol, "price": "123.44"},
            {"instrument": "NOPE", "price": "10"},
            {"price": "10"},
        ):
            assert http.post(url, json=bad).status_code == 400
        assert http.post(url, content=b"not json").status_code == 400
