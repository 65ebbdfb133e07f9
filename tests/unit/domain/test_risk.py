from datetime import date
from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from chalicelib.domain.money import TICK, is_on_tick
from chalicelib.domain.risk import (
    Book,
    chase_limit,
    closing_side,
    distance,
    favourable,
    locked_profit,
    mtm,
    mtm_exit,
    past_the_limit,
    re_entry_ready,
    short,
    stop_already_breached,
    stop_hit,
    stop_order_prices,
    stop_price,
    target_hit,
    target_price,
    tighter,
    trailed_stop,
)
from chalicelib.domain.strategy import (
    ExitReason,
    LockAndTrail,
    ReEntryMode,
    RiskLevel,
    RiskUnit,
    Side,
    StrategyRisk,
    Trailing,
)

ON = date(2026, 11, 25)
D = Decimal
POINTS, PERCENT, ABSOLUTE = RiskUnit.POINTS, RiskUnit.PERCENT, RiskUnit.ABSOLUTE
BUY, SELL = Side.BUY, Side.SELL


def level(unit, value):
    return RiskLevel(unit, D(value))


def stop(side, entry, unit, value, tick=TICK):
    return stop_price(side, D(entry), level(unit, value), tick)


def target(side, entry, unit, value, tick=TICK):
    return target_price(side, D(entry), level(unit, value), tick)


def trail(side, entry, initial, best, every, by, unit=POINTS):
    return trailed_stop(side, D(entry), D(initial), D(best), Trailing(D(every), D(by)), unit)


# -- small helpers -------------------------------------------------------------------------------


def test_sides():
    assert closing_side(SELL) is BUY
    assert closing_side(BUY) is SELL
    assert closing_side("SELL") is BUY
    assert short(SELL) and short("SELL")
    assert not short(BUY) and not short("BUY")
    with pytest.raises(ValueError):
        short("SHORT")


def test_distance():
    assert distance(POINTS, D(20), D("101.30")) == D(20)
    assert distance(PERCENT, D(30), D("101.30")) == D("30.39")
    assert distance(PERCENT, D(0), D(100)) == 0


def test_favourable_and_tighter():
    assert favourable(SELL, D(90), D(100))
    assert not favourable(SELL, D(100), D(100))
    assert not favourable(SELL, D(110), D(100))
    assert favourable(BUY, D(110), D(100))
    assert not favourable(BUY, D(100), D(100))
    assert not favourable(BUY, D(90), D(100))
    assert tighter(SELL, D(120), D(130))
    assert not tighter(SELL, D(130), D(130))
    assert not tighter(SELL, D(140), D(130))
    assert tighter(BUY, D(75), D(70))
    assert not tighter(BUY, D(70), D(70))
    assert not tighter(BUY, D(65), D(70))
    assert tighter(SELL, D(120), None)
    assert tighter(BUY, D(75), None)


# -- stop prices ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "entry", "unit", "value", "expected"),
    [
        # short: stop above the entry, snapped DOWN (tighter)
        (SELL, "101.30", PERCENT, "30", "131.65"),  # 131.69
        (SELL, "100", PERCENT, "30", "130.00"),
        (SELL, "100", POINTS, "20", "120.00"),
        (SELL, "101.30", POINTS, "20.03", "121.30"),  # 121.33
        (SELL, "200", PERCENT, "1000", "2200.00"),
        # long: stop below the entry, snapped UP (tighter)
        (BUY, "80", PERCENT, "25", "60.00"),
        (BUY, "101.30", PERCENT, "30", "70.95"),  # 70.91
        (BUY, "101.30", POINTS, "20.03", "81.30"),  # 81.27
        (BUY, "100", PERCENT, "99.99", "0.05"),  # 0.01 snapped up to one tick
        (BUY, "80", POINTS, "79.99", "0.05"),
        # ABSOLUTE: the value is the price itself
        (SELL, "100", ABSOLUTE, "150.03", "150.00"),
        (SELL, "100", ABSOLUTE, "150", "150.00"),
        (BUY, "100", ABSOLUTE, "70.02", "70.05"),
        (BUY, "100", ABSOLUTE, "0.05", "0.05"),
        # a level on the wrong side of the entry: one tick away from it
        (SELL, "100", ABSOLUTE, "90", "100.05"),
        (BUY, "100", ABSOLUTE, "120", "99.95"),
        # tiny levels stay one tick away from the entry
        (SELL, "100", POINTS, "0.01", "100.05"),
        (SELL, "100", POINTS, "0", "100.05"),
        (SELL, "100", PERCENT, "0.01", "100.05"),
        (BUY, "100", POINTS, "0.01", "99.95"),
        (BUY, "100", POINTS, "0", "99.95"),
        (BUY, "100", PERCENT, "0.01", "99.95"),
        (SELL, "0.05", PERCENT, "10", "0.10"),
        # string sides are accepted
        ("SELL", "101.30", PERCENT, "30", "131.65"),
        ("BUY", "80", PERCENT, "25", "60.00"),
    ],
)
def test_stop_price(side, entry, unit, value, expected):
    result = stop(side, entry, unit, value)
    assert result == D(expected)
    assert str(result) == expected


@pytest.mark.parametrize(
    ("entry", "unit", "value"),
    [
        ("100", PERCENT, "100"),  # exactly zero
        ("100", PERCENT, "150"),
        ("80", POINTS, "80"),
        ("100", ABSOLUTE, "0"),
        ("100", ABSOLUTE, "-5"),
        ("0.05", PERCENT, "10"),  # no tick below the entry is left
        ("0.05", POINTS, "0"),
    ],
)
def test_long_stop_that_can_never_trigger_is_none(entry, unit, value):
    assert stop(BUY, entry, unit, value) is None


def test_short_stop_is_never_none():
    assert stop(SELL, "0.05", PERCENT, "0") == D("0.10")
    assert stop(SELL, "100", ABSOLUTE, "0") == D("100.05")


def test_stop_with_a_coarser_tick():
    tick = D("0.10")
    assert stop(SELL, "101.30", PERCENT, "30", tick) == D("131.6")
    assert stop(BUY, "101.30", PERCENT, "30", tick) == D("71.0")
    assert stop(SELL, "101.30", POINTS, "0.01", tick) == D("101.4")


def test_stop_on_an_average_entry_off_the_tick_stays_on_the_tick():
    # Sliced orders fill at several prices, so the entry (an average) can sit between ticks;
    # the one-tick-away clamp must still land on the grid, at least one tick from the entry.
    assert stop(SELL, "101.325", POINTS, "0.01") == D("101.40")
    assert stop(BUY, "101.325", POINTS, "0.01") == D("101.25")
    assert stop(SELL, "101.325", PERCENT, "30") == D("131.70")  # 131.7225
    assert stop(BUY, "0.075", POINTS, "0") is None  # 0.025 is below one tick


# -- target prices -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "entry", "unit", "value", "expected"),
    [
        # short: target below the entry, snapped UP (reached sooner)
        (SELL, "101.30", PERCENT, "30", "70.95"),  # 70.91
        (SELL, "100", PERCENT, "50", "50.00"),
        (SELL, "100", PERCENT, "99.99", "0.05"),
        (SELL, "100", POINTS, "20.02", "80.00"),  # 79.98
        # long: target above the entry, snapped DOWN
        (BUY, "80", PERCENT, "25", "100.00"),
        (BUY, "101.30", PERCENT, "30", "131.65"),  # 131.69
        (BUY, "100", PERCENT, "1000", "1100.00"),
        (BUY, "100", POINTS, "20.04", "120.00"),
        # ABSOLUTE
        (SELL, "100", ABSOLUTE, "50.02", "50.05"),
        (BUY, "100", ABSOLUTE, "150.04", "150.00"),
        (SELL, "100", ABSOLUTE, "110", "99.95"),
        (BUY, "100", ABSOLUTE, "90", "100.05"),
        # tiny levels stay one tick away
        (SELL, "100", POINTS, "0.01", "99.95"),
        (BUY, "100", POINTS, "0.01", "100.05"),
        (BUY, "100", PERCENT, "0", "100.05"),
        ("SELL", "101.30", PERCENT, "30", "70.95"),
    ],
)
def test_target_price(side, entry, unit, value, expected):
    result = target(side, entry, unit, value)
    assert result == D(expected)
    assert str(result) == expected


@pytest.mark.parametrize(
    ("entry", "unit", "value"),
    [
        ("100", PERCENT, "100"),
        ("100", PERCENT, "250"),
        ("100", POINTS, "100"),
        ("100", POINTS, "120"),
        ("100", ABSOLUTE, "0"),
        ("0.05", POINTS, "0"),
    ],
)
def test_short_target_a_premium_cannot_reach_is_none(entry, unit, value):
    assert target(SELL, entry, unit, value) is None


def test_long_target_is_never_none():
    assert target(BUY, "0.05", POINTS, "0") == D("0.10")


def test_target_on_an_average_entry_off_the_tick_stays_on_the_tick():
    assert target(SELL, "101.325", POINTS, "0.01") == D("101.25")
    assert target(BUY, "101.325", POINTS, "0.01") == D("101.40")


# -- hits ----------------------------------------------------------------------------------------


def test_stop_hit_boundaries():
    assert stop_hit(SELL, D("131.65"), D("131.65"))  # equality triggers
    assert stop_hit(SELL, D("131.65"), D("140"))
    assert not stop_hit(SELL, D("131.65"), D("131.60"))
    assert stop_hit(BUY, D("60"), D("60.00"))
    assert stop_hit(BUY, D("60"), D("55"))
    assert not stop_hit(BUY, D("60"), D("60.05"))
    assert not stop_hit(BUY, None, D("0.05"))
    assert not stop_hit(SELL, None, D("1000"))
    assert stop_hit("SELL", D(10), D(10))


def test_target_hit_boundaries():
    assert target_hit(SELL, D("70.95"), D("70.95"))
    assert target_hit(SELL, D("70.95"), D("50"))
    assert not target_hit(SELL, D("70.95"), D("71.00"))
    assert target_hit(BUY, D("100"), D("100.00"))
    assert target_hit(BUY, D("100"), D("120"))
    assert not target_hit(BUY, D("100"), D("99.95"))
    assert not target_hit(SELL, None, D("0.05"))
    assert not target_hit(BUY, None, D("1000"))


def test_stop_already_breached():
    assert stop_already_breached(SELL, D("131.65"), D("131.65"))
    assert stop_already_breached(SELL, D("131.65"), D("132"))
    assert not stop_already_breached(SELL, D("131.65"), D("131.60"))
    assert not stop_already_breached(SELL, D("131.65"), None)
    assert stop_already_breached(BUY, D("60"), D("60"))
    assert not stop_already_breached(BUY, D("60"), D("60.05"))
    assert not stop_already_breached(BUY, D("60"), None)


# -- trailing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("best", "expected"),
    [
        ("110", "130"),  # moved against: untouched
        ("100", "130"),  # not moved
        ("95", "130"),  # less than one step
        ("90.05", "130"),
        ("90", "125"),  # one step
        ("80.05", "125"),
        ("80", "120"),
        ("70", "115"),
        ("50", "105"),
    ],
)
def test_short_trailing_steps(best, expected):
    assert trail(SELL, "100", "130", best, "10", "5") == D(expected)


@pytest.mark.parametrize(
    ("best", "expected"),
    [
        ("90", "70"),
        ("100", "70"),
        ("109.95", "70"),
        ("110", "75"),
        ("119.95", "75"),
        ("125", "80"),
        ("150", "95"),
    ],
)
def test_long_trailing_steps(best, expected):
    assert trail(BUY, "100", "70", best, "10", "5") == D(expected)


def test_trailing_never_crosses_the_best_price():
    # ``by`` larger than ``every`` would carry the stop through the price: it stops a tick short.
    assert trail(SELL, "100", "130", "99", "1", "40") == D("99.05")
    assert trail(BUY, "100", "70", "101", "1", "40") == D("100.95")


def test_trailing_never_loosens_the_initial_stop():
    assert trail(SELL, "100", "130", "80", "10", "-5") == D("130")
    assert trail(BUY, "100", "70", "120", "10", "-5") == D("70")
    assert trail(SELL, "100", "130", "80", "10", "0") == D("130")
    assert trail(BUY, "100", "70", "120", "10", "0") == D("70")


def test_trailing_with_no_step_keeps_the_initial_stop():
    assert trail(SELL, "100", "130", "50", "0", "5") == D("130")
    assert trail(BUY, "100", "70", "150", "0", "5") == D("70")


def test_percent_trailing_is_computed_on_the_entry():
    # every 10% = 20 points, by 5% = 10 points of the 200 entry (not of the best price)
    assert trail(SELL, "200", "240", "180", "10", "5", PERCENT) == D("230")
    assert trail(SELL, "200", "240", "160", "10", "5", PERCENT) == D("220")
    assert trail(SELL, "200", "240", "150", "10", "5", PERCENT) == D("220")
    assert trail(SELL, "200", "240", "140", "10", "5", PERCENT) == D("210")
    assert trail(BUY, "200", "160", "220", "10", "5", PERCENT) == D("170")
    assert trail(BUY, "200", "160", "219.95", "10", "5", PERCENT) == D("160")
    assert trail(BUY, "200", "160", "260", "10", "5", PERCENT) == D("190")


def test_percent_trailing_snaps_to_the_tighter_tick():
    # every 10.13 points, by 3.039 points on a 101.30 entry
    assert trail(SELL, "101.30", "131.65", "91.17", "10", "3", PERCENT) == D("128.60")  # 128.611
    assert trail(SELL, "101.30", "131.65", "91.20", "10", "3", PERCENT) == D("131.65")
    assert trail(BUY, "101.30", "70.95", "111.43", "10", "3", PERCENT) == D("74.00")  # 73.989
    assert trail(BUY, "101.30", "70.95", "111.40", "10", "3", PERCENT) == D("70.95")


def test_absolute_stops_trail_in_points():
    # entry 200, ABSOLUTE stop 260; every 10 by 5 are points (as PERCENT they would be 20/10)
    initial = stop(SELL, "200", ABSOLUTE, "260")
    assert initial == D("260.00")
    assert trail(SELL, "200", initial, "190", "10", "5", ABSOLUTE) == D("255")
    assert trail(SELL, "200", initial, "180", "10", "5", ABSOLUTE) == D("250")
    initial = stop(BUY, "200", ABSOLUTE, "150")
    assert trail(BUY, "200", initial, "210", "10", "5", ABSOLUTE) == D("155")
    assert trail(BUY, "200", initial, "230", "10", "5", ABSOLUTE) == D("165")


def test_trailed_stop_is_quantized_to_the_tick():
    assert str(trail(SELL, "100", "130.00", "90", "10", "5")) == "125.00"
    assert str(trail(BUY, "100", "70.00", "110", "10", "5")) == "75.00"


# -- SL-LIMIT order prices -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "trigger", "limit"),
    [
        (SELL, "131.65", "135.60"),  # closing BUY: 3% slab, 135.5995 snapped UP
        (SELL, "4.00", "4.50"),  # min buffer 0.50
        (BUY, "60.00", "58.20"),  # closing SELL: 3% slab
        (BUY, "0.05", "0.05"),  # a sell limit never goes below one tick
        ("SELL", "100", "103.00"),
    ],
)
def test_stop_order_prices(side, trigger, limit):
    assert stop_order_prices(side, D(trigger), ON) == (D(trigger), D(limit))


# -- re-entry ------------------------------------------------------------------------------------


def test_re_entry_asap_is_always_ready():
    assert re_entry_ready(ReEntryMode.RE_ASAP, D(100), D(130), None)
    assert re_entry_ready(ReEntryMode.RE_ASAP, D(100), D(70), D(50))


@pytest.mark.parametrize(
    ("exit_price", "ltp", "ready"),
    [
        # left above the entry (a short's stop, a long's target): wait for it to come down
        ("130", "130", False),
        ("130", "100.05", False),
        ("130", "100", True),
        ("130", "95", True),
        # left below the entry (a long's stop, a short's target): wait for it to come up
        ("70", "70", False),
        ("70", "99.95", False),
        ("70", "100", True),
        ("70", "105", True),
        # left at the entry: the entry price itself is ready
        ("100", "100", True),
    ],
)
def test_re_entry_at_cost(exit_price, ltp, ready):
    assert re_entry_ready(ReEntryMode.RE_COST, D(100), D(exit_price), D(ltp)) is ready


def test_re_entry_at_cost_needs_a_price():
    assert not re_entry_ready(ReEntryMode.RE_COST, D(100), D(130), None)
    assert not re_entry_ready(ReEntryMode.RE_COST, D(100), D(70), None)


# -- strategy MTM --------------------------------------------------------------------------------


SHORT_BOOK = Book(net_quantity=-50, buy_value=D(0), sell_value=D(5000), ltp=D(80))  # +1000
LONG_BOOK = Book(net_quantity=75, buy_value=D(1500), sell_value=D(0), ltp=D(30))  # +750
CLOSED_BOOK = Book(net_quantity=0, buy_value=D(1000), sell_value=D(1200), ltp=None)  # +200


def test_mtm_adds_realised_and_unrealised():
    assert mtm([SHORT_BOOK]) == D(1000)
    assert mtm([LONG_BOOK]) == D(750)
    assert mtm([CLOSED_BOOK]) == D(200)
    assert mtm([SHORT_BOOK, LONG_BOOK, CLOSED_BOOK]) == D(1950)
    assert mtm([]) == 0
    losing = Book(net_quantity=-50, buy_value=D(0), sell_value=D("5000.50"), ltp=D("130.25"))
    assert mtm([losing]) == D("-1512.00")
    partly_closed = Book(net_quantity=25, buy_value=D(3000), sell_value=D(2200), ltp=D(40))
    assert mtm([partly_closed]) == D(200)


def test_mtm_without_a_price_for_an_open_position_is_none():
    priceless = Book(net_quantity=-50, buy_value=D(0), sell_value=D(5000), ltp=None)
    assert mtm([priceless]) is None
    assert mtm([SHORT_BOOK, priceless, LONG_BOOK]) is None
    assert mtm(iter([CLOSED_BOOK, priceless])) is None


def test_mtm_accepts_a_generator():
    assert mtm(b for b in (SHORT_BOOK, LONG_BOOK)) == D(1750)


LOCK = LockAndTrail(reach=D(5000), lock=D(2000))
TRAILING_LOCK = LockAndTrail(reach=D(5000), lock=D(2000), every=D(1000), by=D(500))


@pytest.mark.parametrize(
    ("peak", "lock", "floor"),
    [
        ("100000", None, None),
        ("4999.99", LOCK, None),
        ("5000", LOCK, "2000"),
        ("100000", LOCK, "2000"),
        ("4999.99", TRAILING_LOCK, None),
        ("5000", TRAILING_LOCK, "2000"),
        ("5999.99", TRAILING_LOCK, "2000"),
        ("6000", TRAILING_LOCK, "2500"),
        ("8500", TRAILING_LOCK, "3500"),
        ("9000", TRAILING_LOCK, "4000"),
        ("5000", LockAndTrail(D(5000), D(2000), every=D(1000)), "2000"),
        ("9000", LockAndTrail(D(5000), D(2000), every=D(1000)), "2000"),
        ("9000", LockAndTrail(D(5000), D(2000), by=D(500)), "2000"),
        ("9000", LockAndTrail(D(5000), D(2000), every=D(0), by=D(500)), "2000"),
    ],
)
def test_locked_profit(peak, lock, floor):
    expected = None if floor is None else D(floor)
    assert locked_profit(D(peak), lock) == expected


RISK = StrategyRisk(mtm_stop_loss=D(3000), mtm_target=D(10000), lock_and_trail=TRAILING_LOCK)


@pytest.mark.parametrize(
    ("value", "peak", "reason"),
    [
        ("0", "0", None),
        ("-2999.99", "0", None),
        ("-3000", "0", ExitReason.MTM_STOP_LOSS),
        ("-5000", "0", ExitReason.MTM_STOP_LOSS),
        ("9999.99", "9999.99", None),
        ("10000", "10000", ExitReason.MTM_TARGET),
        ("12000", "12000", ExitReason.MTM_TARGET),
        ("4000", "4999", None),  # lock not reached yet
        ("2000", "5000", ExitReason.MTM_LOCKED_PROFIT),
        ("2000.01", "5000", None),
        ("2500", "6000", ExitReason.MTM_LOCKED_PROFIT),  # floor raised once
        ("2500.01", "6000", None),
        ("-100", "6000", ExitReason.MTM_LOCKED_PROFIT),
    ],
)
def test_mtm_exit(value, peak, reason):
    assert mtm_exit(D(value), D(peak), RISK) is reason


def test_mtm_exit_without_rules():
    assert mtm_exit(D(-(10**9)), D(10**9), StrategyRisk()) is None


def test_mtm_exit_one_rule_at_a_time():
    assert mtm_exit(D(-500), D(0), StrategyRisk(mtm_stop_loss=D(500))) is ExitReason.MTM_STOP_LOSS
    assert mtm_exit(D(10**6), D(0), StrategyRisk(mtm_stop_loss=D(500))) is None
    assert mtm_exit(D(500), D(500), StrategyRisk(mtm_target=D(500))) is ExitReason.MTM_TARGET
    assert mtm_exit(D(-(10**6)), D(0), StrategyRisk(mtm_target=D(500))) is None
    lock_only = StrategyRisk(lock_and_trail=LOCK)
    assert mtm_exit(D(2000), D(5000), lock_only) is ExitReason.MTM_LOCKED_PROFIT
    assert mtm_exit(D(2000), D(4999), lock_only) is None


def test_mtm_exit_precedence():
    # stop loss before target (only reachable with a contrived negative target)
    both = StrategyRisk(mtm_stop_loss=D(3000), mtm_target=D(-5000))
    assert mtm_exit(D(-6000), D(0), both) is ExitReason.MTM_STOP_LOSS
    # stop loss before the locked profit
    assert mtm_exit(D(-3000), D(6000), RISK) is ExitReason.MTM_STOP_LOSS
    # target before the locked profit: a floor trailed up past the target
    steep = LockAndTrail(reach=D(5000), lock=D(2000), every=D(100), by=D(100))
    risk = StrategyRisk(mtm_stop_loss=D(3000), mtm_target=D(10000), lock_and_trail=steep)
    assert locked_profit(D(30000), steep) == D(27000)
    assert mtm_exit(D(12000), D(30000), risk) is ExitReason.MTM_TARGET
    assert mtm_exit(D(9000), D(30000), risk) is ExitReason.MTM_LOCKED_PROFIT


# -- properties ----------------------------------------------------------------------------------

on_tick = st.integers(min_value=1, max_value=100_000).map(lambda n: n * TICK)  # 0.05 .. 5000
# an average fill price: on the tick, or anywhere between ticks
entries = st.one_of(
    on_tick,
    st.decimals(min_value="0.05", max_value="5000", places=4, allow_nan=False),
)
sides = st.sampled_from([BUY, SELL])
relative_levels = st.builds(
    RiskLevel,
    st.sampled_from([POINTS, PERCENT]),
    st.decimals(min_value="0", max_value="1000", places=2, allow_nan=False),
)
absolute_levels = st.builds(
    RiskLevel,
    st.just(ABSOLUTE),
    st.decimals(min_value="0", max_value="10000", places=2, allow_nan=False),
)
levels = st.one_of(relative_levels, absolute_levels)
trailings = st.builds(
    Trailing,
    st.decimals(min_value="0.01", max_value="100", places=2, allow_nan=False),
    st.decimals(min_value="0.01", max_value="100", places=2, allow_nan=False),
)


def raw_level(side, entry, lvl, away):
    """The unsnapped price ``lvl`` names; ``away`` = +1 above the entry, -1 below."""
    if lvl.unit is ABSOLUTE:
        return lvl.value
    return entry + away * distance(lvl.unit, lvl.value, entry)


@given(side=sides, entry=entries, lvl=levels)
def test_stops_and_targets_are_on_the_tick_and_on_the_right_side(side, entry, lvl):
    sl = stop_price(side, entry, lvl)
    tp = target_price(side, entry, lvl)
    for price in (sl, tp):
        assert price is None or (is_on_tick(price) and price >= TICK)
    if side is SELL:
        assert sl is not None
        assert sl >= entry + TICK
        assert tp is None or tp <= entry - TICK
    else:
        assert tp is not None
        assert tp >= entry + TICK
        assert sl is None or sl <= entry - TICK


@given(side=sides, entry=on_tick, lvl=levels)
def test_stops_snap_to_the_tighter_tick(side, entry, lvl):
    sl = stop_price(side, entry, lvl)
    if side is SELL:
        raw = raw_level(side, entry, lvl, +1)
        assert sl == entry + TICK or sl <= raw < sl + TICK
    else:
        raw = raw_level(side, entry, lvl, -1)
        if sl is None:
            assert raw <= 0 or entry == TICK
        else:
            assert sl == entry - TICK or sl - TICK < raw <= sl


@given(side=sides, entry=on_tick, lvl=levels)
def test_none_only_when_the_premium_cannot_get_there(side, entry, lvl):
    away = -1  # a long's stop and a short's target both sit below the entry
    raw = raw_level(side, entry, lvl, away)
    price = stop_price(side, entry, lvl) if side is BUY else target_price(side, entry, lvl)
    reachable = raw > 0 and entry > TICK
    assert (price is not None) is reachable


@given(
    side=sides,
    entry=entries,
    lvl=relative_levels,
    trailing=trailings,
    unit=st.sampled_from([POINTS, PERCENT, ABSOLUTE]),
    a=on_tick,
    b=on_tick,
)
def test_trailing_is_monotone_and_never_looser(side, entry, lvl, trailing, unit, a, b):
    initial = stop_price(side, entry, lvl)
    assume(initial is not None)
    # ``better`` is the more favourable of the two best prices
    better, worse = (min(a, b), max(a, b)) if side is SELL else (max(a, b), min(a, b))
    at_better = trailed_stop(side, entry, initial, better, trailing, unit)
    at_worse = trailed_stop(side, entry, initial, worse, trailing, unit)
    for trailed, best in ((at_better, better), (at_worse, worse)):
        assert is_on_tick(trailed)
        assert not tighter(side, initial, trailed)  # never looser than the initial stop
        if favourable(side, best, entry):
            assert favourable(side, best, trailed)  # never at or beyond the best price
        else:
            assert trailed == initial
    assert not tighter(side, at_worse, at_better)  # a better best never loosens the stop


@given(side=sides, entry=on_tick, lvl=levels)
def test_stop_order_limit_is_on_the_protective_side(side, entry, lvl):
    trigger = stop_price(side, entry, lvl)
    assume(trigger is not None)
    got_trigger, limit = stop_order_prices(side, trigger, ON)
    assert got_trigger == trigger
    assert is_on_tick(limit)
    if side is SELL:  # closed by a BUY: pay up to the limit
        assert limit >= trigger
    else:  # closed by a SELL
        assert TICK <= limit <= trigger


@given(side=sides, stop_=on_tick, ltp=on_tick)
def test_breached_is_stop_hit(side, stop_, ltp):
    assert stop_already_breached(side, stop_, ltp) is stop_hit(side, stop_, ltp)
    assert stop_hit(side, stop_, stop_)
    assert target_hit(side, stop_, stop_)


@given(
    entry=on_tick,
    exit_price=on_tick,
    ltp=on_tick,
)
def test_re_entry_at_cost_waits_for_the_entry_from_the_exit_side(entry, exit_price, ltp):
    ready = re_entry_ready(ReEntryMode.RE_COST, entry, exit_price, ltp)
    if ltp == entry:
        assert ready
    elif (ltp - entry) * (exit_price - entry) > 0:
        assert not ready  # still on the side it left to
    elif exit_price != entry:
        assert ready  # crossed back through the entry


@given(
    reach=st.integers(min_value=1, max_value=10**6),
    lock=st.integers(min_value=0, max_value=10**6),
    every=st.integers(min_value=1, max_value=10**5),
    by=st.integers(min_value=0, max_value=10**5),
    p=st.integers(min_value=0, max_value=10**7),
    q=st.integers(min_value=0, max_value=10**7),
)
def test_locked_profit_never_falls_as_the_peak_rises(reach, lock, every, by, p, q):
    rule = LockAndTrail(D(reach), D(lock), D(every), D(by))
    low, high = sorted((D(p), D(q)))
    floor_low, floor_high = locked_profit(low, rule), locked_profit(high, rule)
    if floor_low is not None:
        assert floor_high is not None and floor_high >= floor_low >= lock
    assert (floor_high is None) is (high < reach)


# -- chasing a close ----------------------------------------------------------------------------
def test_chase_limit_widens_with_each_attempt_up_to_the_band():
    on = date(2026, 11, 26)
    first = chase_limit("BUY", Decimal("100"), 0, on=on)
    assert first == Decimal("103.00")  # the ordinary protection: 3% above Rs 50
    assert chase_limit("BUY", Decimal("100"), 1, on=on) == Decimal("106.00")
    assert chase_limit("BUY", Decimal("100"), 50, on=on) == Decimal("140.00")  # the band's edge
    assert chase_limit("SELL", Decimal("100"), 2, on=on) == Decimal("91.00")
    assert chase_limit("SELL", Decimal("100"), 50, on=on) == Decimal("60.00")
    assert chase_limit("SELL", Decimal("3"), 50, on=on) == Decimal("0.05")  # never below a tick


def test_past_the_limit_is_beyond_a_stop_orders_closing_limit():
    assert past_the_limit("SELL", Decimal("133.90"), Decimal("180"))
    assert not past_the_limit("SELL", Decimal("133.90"), Decimal("131"))
    assert past_the_limit("BUY", Decimal("66.10"), Decimal("50"))
    assert not past_the_limit("BUY", Decimal("66.10"), None)
