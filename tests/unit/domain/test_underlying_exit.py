"""Which way an underlying stop-loss and target point, and when they are crossed (issue #15)."""

from decimal import Decimal

import pytest

from chalicelib.api.strategy_schemas import StrategyIn
from chalicelib.domain.strategy import ExitReason
from chalicelib.domain.strategy_documents import from_document, to_document
from chalicelib.domain.underlying_exit import direction, underlying_exit
from tests.factories import four_leg_strategy

D = Decimal
STOP, TARGET = ExitReason.UNDERLYING_STOP_LOSS, ExitReason.UNDERLYING_TARGET


def strategy(legs: list[tuple[str, str, int]], **risk: dict) -> object:
    body = four_leg_strategy("B1", "A1", "A2", risk=risk)
    body["legs"] = [
        {"side": side, "option_type": kind, "strike": {"method": "ATM_OFFSET", "value": i},
         "lots": lots}
        for i, (side, kind, lots) in enumerate(legs)
    ]  # fmt: skip
    return StrategyIn.model_validate(body).to_domain()


@pytest.mark.parametrize(
    ("legs", "lean"),
    [
        ([("BUY", "CE", 1)], 1),
        ([("SELL", "PE", 1)], 1),
        ([("SELL", "CE", 1)], -1),
        ([("BUY", "PE", 1)], -1),
        ([("SELL", "CE", 1), ("SELL", "PE", 1)], 0),  # a short straddle
        ([("SELL", "CE", 2), ("BUY", "CE", 1)], -1),  # lots weigh
    ],
)
def test_direction_is_the_lots_weighted_lean(legs, lean):
    assert direction(strategy(legs)) == lean


def test_a_bullish_strategy_stops_on_a_fall_and_targets_a_rise():
    s = strategy([("SELL", "PE", 1)], underlying_stop_loss={"type": "POINTS", "value": "100"},
                 underlying_target={"type": "PERCENT", "value": "1"})  # fmt: skip
    entry = D(24000)
    assert underlying_exit(s, entry, D("23900.05")) is None
    assert underlying_exit(s, entry, D(23900)) == (STOP, D(23900))
    assert underlying_exit(s, entry, D("24239.95")) is None
    assert underlying_exit(s, entry, D(24240)) == (TARGET, D(24240))


def test_a_bearish_strategy_stops_on_a_rise():
    s = strategy([("SELL", "CE", 1)], underlying_stop_loss={"type": "POINTS", "value": "50"})
    assert underlying_exit(s, D(24000), D(23000)) is None  # no target: the gain is kept
    assert underlying_exit(s, D(24000), D(24050)) == (STOP, D(24050))


def test_a_neutral_strategy_stops_on_a_move_either_way():
    s = strategy([("SELL", "CE", 1), ("SELL", "PE", 1)],
                 underlying_stop_loss={"type": "PERCENT", "value": "0.5"})  # fmt: skip
    assert underlying_exit(s, D(24000), D(24119)) is None
    assert underlying_exit(s, D(24000), D(24120)) == (STOP, D(24120))
    assert underlying_exit(s, D(24000), D(23880)) == (STOP, D(23880))


def test_the_rules_survive_the_stored_document():
    s = strategy([("BUY", "CE", 1)], underlying_stop_loss={"type": "POINTS", "value": "75"},
                 underlying_target={"type": "PERCENT", "value": "0.8"})  # fmt: skip
    doc = to_document(s)
    assert doc["risk"]["underlying_target"] == {"type": "PERCENT", "value": "0.8"}
    assert from_document(doc) == s
    assert s.has_risk_rules
    legacy = {**doc, "risk": {k: v for k, v in doc["risk"].items() if "underlying" not in k}}
    assert from_document(legacy).risk.watches_underlying is False
