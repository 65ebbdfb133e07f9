"""Wait and trade as arithmetic: the trigger from the reference premium, and the deadline rules."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal

import pytest

from chalicelib.api.strategy_schemas import StrategyIn
from chalicelib.domain.schedule import schedule_entries
from chalicelib.domain.strategy_checks import check_strategy
from chalicelib.domain.strategy_documents import from_document, to_document
from chalicelib.domain.wait_and_trade import (
    WaitAndTrade,
    WaitDirection,
    WaitUnit,
    reached,
    trigger_price,
)
from chalicelib.errors import ValidationFailed
from tests.factories import four_leg_strategy

D = Decimal
TODAY = date(2026, 11, 25)


def rule(direction: str, unit: str, value: str) -> WaitAndTrade:
    return WaitAndTrade(WaitDirection(direction), WaitUnit(unit), D(value), time(10, 30))


@pytest.mark.parametrize(
    ("direction", "unit", "value", "reference", "trigger"),
    [
        ("UP", "PERCENT", "10", "100", "110"),
        ("UP", "PERCENT", "10", "101.30", "111.45"),  # 111.43 snapped up: never less than asked
        ("DOWN", "PERCENT", "10", "101.30", "91.15"),  # 91.17 snapped down
        ("UP", "POINTS", "7.5", "80.05", "87.55"),
        ("DOWN", "POINTS", "20", "100", "80"),
    ],
)
def test_the_trigger_is_at_least_the_move_away(direction, unit, value, reference, trigger):
    found = trigger_price(rule(direction, unit, value), D(reference))
    assert found == D(trigger)


def test_a_fall_below_a_tick_is_unreachable_and_crossing_is_inclusive():
    assert trigger_price(rule("DOWN", "POINTS", "20"), D("20")) is None
    up, down = rule("UP", "POINTS", "10"), rule("DOWN", "POINTS", "10")
    assert reached(up, D("110"), D("110")) and not reached(up, D("110"), D("109.95"))
    assert reached(down, D("90"), D("90")) and not reached(down, D("90"), D("90.05"))


def _strategy(wait: dict) -> object:
    body = four_leg_strategy("B1", "A1", "A2")
    body["legs"][2]["wait_and_trade"] = wait
    return StrategyIn.model_validate(body).to_domain()


def test_wait_and_trade_round_trips_and_marks_the_schedule_payload():
    strategy = _strategy({"direction": "DOWN", "type": "POINTS", "value": "12.5",
                          "until": "11:00:00"})  # fmt: skip
    check_strategy(strategy, ["A1", "A2"], TODAY, {"A1": "zerodha", "A2": "paper"})
    assert strategy.has_risk_rules
    assert from_document(to_document(strategy)) == strategy
    [entry, *_] = schedule_entries("S1", strategy)
    legs = {leg["leg"]: leg for leg in entry.payload["accounts"]["A1"]}
    assert legs[2].get("wait") is True and "wait" not in legs[0]


@pytest.mark.parametrize(
    ("until", "accepted"), [("09:20:01", True), ("15:13:30", True), ("15:13:31", False)]
)
def test_the_deadline_is_after_the_entry_and_90_s_before_the_exit(until, accepted):
    strategy = _strategy({"direction": "UP", "type": "PERCENT", "value": "5", "until": until})
    if accepted:
        check_strategy(strategy, ["A1", "A2"], TODAY)
        return
    with pytest.raises(ValidationFailed) as error:
        check_strategy(strategy, ["A1", "A2"], TODAY)
    assert error.value.field == "legs[2].wait_and_trade.until"
