"""Basket margin and funds, every dialect: the real adapter asks its fake broker over HTTP in the
broker's own shape, and reads back the simulated exchange's SPAN-like figure (a spread blocks
less than its naked short) and the account's available funds."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from chalicelib.ports.broker import OrderRequest, OrderType, Product, Side
from chalicelib.ports.broker_errors import Unavailable
from sim.faults import Fault
from tests.integration.brokers.rigs import CLIENT, Rig


@pytest.fixture(autouse=True)
def _unhurried(rig: Rig) -> None:
    rig.server.monotonic = itertools.count(step=0.15).__next__


def _order(rig: Rig, instrument, side: Side, tag: str) -> OrderRequest:
    price = rig.exchange.ltp(instrument.key)
    return OrderRequest(
        instrument, side, instrument.lot_size, Product.MIS, OrderType.LIMIT, price, tag
    )


def test_basket_margin_and_funds_in_the_brokers_shape(rig: Rig):
    listed = rig.dialect.parse_master(rig.adapter.instruments())
    short_leg = rig.instrument
    [hedge] = [
        i
        for i in listed
        if i.key.underlying == short_leg.key.underlying
        and i.expiry == short_leg.expiry
        and i.option_type == "CE"
        and i.strike == short_leg.strike + 200
    ]
    short = _order(rig, short_leg, Side.SELL, "MARGIN1")
    wing = _order(rig, hedge, Side.BUY, "MARGIN2")

    naked = rig.adapter.basket_margin([short])
    spread = rig.adapter.basket_margin([short, wing])
    expected = rig.exchange.basket_margin(
        [(short_leg.key, "SELL", short.quantity, short.price),
         (hedge.key, "BUY", wing.quantity, wing.price)]
    )  # fmt: skip
    assert spread == expected.total and expected.benefit > 0
    assert naked > spread  # the long call caps the short's risk at the strike distance
    assert rig.adapter.funds() == rig.exchange.available_funds(CLIENT) == Decimal(10_000_000)
    rig.exchange.set_funds(CLIENT, Decimal("12345.50"))
    assert rig.adapter.funds() == Decimal("12345.50")
    assert rig.exchange.orders(CLIENT) == []  # asking for margin places nothing

    rig.server.inject(CLIENT, Fault.SERVER_ERROR, status=500)
    with pytest.raises(Unavailable):
        rig.adapter.basket_margin([short])
