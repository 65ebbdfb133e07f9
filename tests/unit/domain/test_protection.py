import copy
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.market_errors import InvalidRuleValue, MarketDataError, ReferenceDataError
from chalicelib.domain.money import TICK, is_on_tick
from chalicelib.domain.protection import policies_from_document, protected_limit_price
from chalicelib.domain.reference_data import load_data_file

ON = date(2026, 11, 25)


def price(side, ltp):
    return protected_limit_price(side, Decimal(ltp), on=ON)


def test_slab_buffers():
    assert price("BUY", "100") == Decimal("103.00")  # 3% slab
    assert price("SELL", "100") == Decimal("97.00")
    assert price("BUY", "101.15") == Decimal("104.20")  # 104.1845 snapped UP
    assert price("SELL", "101.15") == Decimal("98.10")  # 98.1155 snapped DOWN
    assert price("BUY", "4.00") == Decimal("4.50")  # min buffer 0.50 beats 10%
    assert price("BUY", "1000") == Decimal("1015.00")  # 1.5% slab
    assert price("SELL", "300") == Decimal("294.00")  # 2% slab


def test_sell_is_never_zero_or_negative():
    assert price("SELL", "0.05") == TICK
    assert price("SELL", "0.40") == TICK


def test_band_caps_the_buffer():
    policy = policies_from_document(load_data_file("protection_slabs"))[0]
    wide = copy.deepcopy(load_data_file("protection_slabs"))
    for slab in wide["entries"][0]["slabs"]:
        slab["buffer_pct"] = "90"
    greedy = policies_from_document(wide)[0]
    assert protected_limit_price("BUY", Decimal(200), on=ON, policy=greedy) == Decimal("280.00")
    assert protected_limit_price("SELL", Decimal(200), on=ON, policy=greedy) == Decimal("120.00")
    assert protected_limit_price("BUY", Decimal(30), on=ON, policy=greedy) == Decimal("50.00")
    assert protected_limit_price("SELL", Decimal(30), on=ON, policy=greedy) == Decimal("10.00")
    assert protected_limit_price("BUY", Decimal(200), on=ON, policy=policy) == Decimal("206.00")


def test_bad_side_or_ltp():
    with pytest.raises(InvalidRuleValue):
        price("SHORT", "100")
    with pytest.raises(MarketDataError):
        price("BUY", "0")


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d["entries"][0]["slabs"].pop(),
        lambda d: d["entries"][0]["slabs"][1].update(up_to="5"),
        lambda d: d["entries"][0]["slabs"][0].update(buffer_pct="0"),
        lambda d: d["entries"][0]["slabs"][1].update(up_to=None),
        lambda d: d["entries"][0]["band"].pop("threshold"),
    ],
)
def test_bad_protection_data(mutate):
    doc = copy.deepcopy(load_data_file("protection_slabs"))
    mutate(doc)
    with pytest.raises(ReferenceDataError):
        policies_from_document(doc)


ltps = st.decimals(min_value="0.05", max_value="5000", places=2).map(
    lambda d: (d / TICK).to_integral_value() * TICK
)


@given(ltp=ltps)
def test_protected_prices_are_on_tick_protective_and_inside_the_band(ltp):
    buy, sell = price("BUY", ltp), price("SELL", ltp)
    assert is_on_tick(buy) and is_on_tick(sell)
    assert buy > ltp  # a buy limit always sits above the LTP
    assert sell > 0
    assert sell < ltp or sell == TICK == ltp
    width = ltp * Decimal("0.4") if ltp > 50 else Decimal(20)
    assert buy <= ltp + width
    assert sell >= ltp - width
