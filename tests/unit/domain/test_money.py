from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.market_errors import InvalidRuleValue
from chalicelib.domain.money import TICK, Rounding, is_on_tick, snap_to_tick, to_decimal


def test_to_decimal_goes_through_str_for_floats():
    assert to_decimal(101.15) == Decimal("101.15")
    assert to_decimal(" 7 ") == Decimal(7)
    assert to_decimal(Decimal("0.05")) == Decimal("0.05")


@pytest.mark.parametrize("bad", ["abc", "NaN", "inf", True, None, float("nan")])
def test_to_decimal_rejects_non_numbers(bad):
    with pytest.raises(InvalidRuleValue) as info:
        to_decimal(bad, field="price")
    assert info.value.field == "price"


def test_snap_directions_and_format():
    assert snap_to_tick("101.12", TICK, Rounding.UP) == Decimal("101.15")
    assert snap_to_tick("101.12", TICK, Rounding.DOWN) == Decimal("101.10")
    assert snap_to_tick("101.125", TICK, Rounding.NEAREST) == Decimal("101.15")
    assert snap_to_tick("101.124", TICK, Rounding.NEAREST) == Decimal("101.10")
    assert str(snap_to_tick(101, TICK, Rounding.UP)) == "101.00"
    assert snap_to_tick("-0.07", TICK, Rounding.UP) == Decimal("-0.05")
    with pytest.raises(InvalidRuleValue):
        snap_to_tick("1", Decimal(0))


prices = st.decimals(min_value="0", max_value="100000", places=4, allow_nan=False)


@given(prices)
def test_snapped_prices_are_on_tick_and_move_in_the_asked_direction(price):
    up = snap_to_tick(price, TICK, Rounding.UP)
    down = snap_to_tick(price, TICK, Rounding.DOWN)
    nearest = snap_to_tick(price, TICK, Rounding.NEAREST)
    assert is_on_tick(up) and is_on_tick(down) and is_on_tick(nearest)
    assert down <= price <= up
    assert up - down in (Decimal(0), TICK)
    assert nearest in (up, down)
    assert abs(nearest - price) <= TICK / 2
