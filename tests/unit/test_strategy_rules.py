"""Strategy rules that need the market model or several fields at once, and the stored document."""

from datetime import date, time
from decimal import Decimal

import pytest

from chalicelib.api.strategy_schemas import StrategyIn
from chalicelib.domain.schedule import schedule_entries, shard_of
from chalicelib.domain.strategy import Phase, Weekday
from chalicelib.domain.strategy_checks import check_strategy
from chalicelib.domain.strategy_documents import from_document, to_document
from chalicelib.errors import ValidationFailed
from tests.factories import four_leg_strategy

TODAY = date(2026, 11, 25)


def strategy(**overrides):
    return StrategyIn.model_validate(four_leg_strategy("B1", "A1", "A2", **overrides)).to_domain()


def test_the_example_strategy_is_valid():
    check_strategy(strategy(), ["A1", "A2"], TODAY)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"entry": {"time": "09:14:59", "days": ["MON"]}}, "entry.time"),
        ({"entry": {"time": "15:40:00", "days": ["MON"]}}, "entry.time"),
        ({"exit": {"time": "15:40:00"}}, "exit.time"),
        ({"exit": {"time": "09:20:00"}}, "exit.time"),
        ({"exit": {"time": "15:00:00", "days": ["MON"]}}, "exit.days"),
    ],
)
def test_time_rules(overrides, field):
    with pytest.raises(ValidationFailed) as error:
        check_strategy(strategy(**overrides), ["A1", "A2"], TODAY)
    assert error.value.field == field


def test_the_session_close_moved_to_1540_on_2026_08_03():
    late_exit = strategy(exit={"time": "15:35:00"})
    check_strategy(late_exit, ["A1", "A2"], date(2026, 8, 3))
    with pytest.raises(ValidationFailed) as error:
        check_strategy(late_exit, ["A1", "A2"], date(2026, 7, 31))
    assert error.value.field == "exit.time"


def _without_risk(body: dict) -> dict:
    for leg in body["legs"]:
        leg.pop("stop_loss", None)
    body["risk"] = {"on_leg_failure": "UNWIND"}
    return body


def test_positional_strategy_may_exit_on_other_days():
    body = four_leg_strategy(
        "B1", "A1", "A2",
        product="NRML",
        entry={"time": "15:00:00", "days": ["MON"]},
        exit={"time": "09:30:00", "days": ["TUE"]},
    )  # fmt: skip
    positional = StrategyIn.model_validate(_without_risk(body)).to_domain()
    check_strategy(positional, ["A1", "A2"], TODAY)


def test_risk_rules_on_a_position_carried_overnight_are_refused():
    carried = strategy(
        product="NRML",
        entry={"time": "15:00:00", "days": ["MON"]},
        exit={"time": "09:30:00", "days": ["TUE"]},
    )
    with pytest.raises(ValidationFailed) as error:
        check_strategy(carried, ["A1", "A2"], TODAY)
    assert error.value.field == "product"
    assert "overnight" in str(error.value)


def _leg(**extra):
    base = {"side": "SELL", "option_type": "CE", "strike": {"method": "ATM_OFFSET", "value": 0},
            "lots": 1}  # fmt: skip
    return {**base, **extra}


SL30 = {"type": "PERCENT", "value": "30"}


@pytest.mark.parametrize(
    ("legs", "risk", "field"),
    [
        ([_leg(trailing={"every": "10", "by": "5"})], {}, "legs[0].trailing"),
        ([_leg(stop_loss=SL30, trailing={"every": "5", "by": "10"})], {}, "legs[0].trailing.by"),
        ([_leg(stop_loss=SL30, re_entry={"mode": "RE_ASAP", "on": ["TARGET"]})], {},
         "legs[0].re_entry.on"),
        ([_leg(re_entry={"mode": "RE_COST"})], {}, "legs[0].re_entry.on"),
        ([_leg(stop_loss=SL30), _leg()], {"move_sl_to_cost": True}, "risk.move_sl_to_cost"),
        ([_leg()], {"lock_and_trail": {"reach": "1000", "lock": "1000"}},
         "risk.lock_and_trail.lock"),
        ([_leg()], {"lock_and_trail": {"reach": "1000", "lock": "500", "every": "100"}},
         "risk.lock_and_trail.every"),
        ([_leg()], {"lock_and_trail": {"reach": "1000", "lock": "500", "every": "100",
                                       "by": "200"}}, "risk.lock_and_trail.by"),
        ([_leg()], {"mtm_target": "900", "lock_and_trail": {"reach": "1000", "lock": "500"}},
         "risk.lock_and_trail.reach"),
        ([_leg(stop_loss=SL30)], {"no_re_entry_after": "09:10:00"}, "risk.no_re_entry_after"),
        ([_leg(stop_loss=SL30)], {"no_re_entry_after": "15:20:00"}, "risk.no_re_entry_after"),
        ([_leg(side="BUY", stop_loss={"type": "PERCENT", "value": "100"})], {},
         "legs[0].stop_loss.value"),
        ([_leg(target={"type": "PERCENT", "value": "100"})], {}, "legs[0].target.value"),
    ],
)  # fmt: skip
def test_risk_rules_that_cannot_be_honoured_are_refused(legs, risk, field):
    with pytest.raises(ValidationFailed) as error:
        check_strategy(strategy(legs=legs, risk=risk), ["A1", "A2"], TODAY)
    assert error.value.field == field


def test_full_risk_configuration_is_accepted_and_round_trips():
    legs = [
        _leg(stop_loss=SL30, target={"type": "POINTS", "value": "20"},
             trailing={"every": "10", "by": "5"},
             re_entry={"mode": "RE_COST", "max_count": 2, "on": ["STOP_LOSS", "TARGET"]}),
        _leg(option_type="PE", stop_loss={"type": "ABSOLUTE", "value": "150"}),
    ]  # fmt: skip
    risk = {
        "mtm_stop_loss": "3000", "mtm_target": "9000", "mtm_scope": "ACCOUNT",
        "lock_and_trail": {"reach": "4000", "lock": "1500", "every": "1000", "by": "500"},
        "move_sl_to_cost": True, "no_re_entry_after": "14:30",
    }  # fmt: skip
    original = strategy(legs=legs, risk=risk)
    check_strategy(original, ["A1", "A2"], TODAY, {"A1": "zerodha", "A2": "shoonya"})
    assert original.has_risk_rules
    assert from_document(to_document(original)) == original


def test_a_broker_without_stop_orders_is_refused():
    from chalicelib.domain.broker_support import NOTHING, BrokerSupport

    with pytest.raises(ValidationFailed) as error:
        check_strategy(strategy(), ["A1", "A2"], TODAY, {"A1": "zerodha", "A2": "nobroker"})
    assert error.value.field == "legs[2].stop_loss"

    def no_modify(broker: str) -> BrokerSupport:
        return BrokerSupport(broker, NOTHING.effective_from, True, False, 0)

    trailing = strategy(legs=[_leg(stop_loss=SL30, trailing={"every": "10", "by": "5"})])
    with pytest.raises(ValidationFailed) as error:
        check_strategy(trailing, ["A1", "A2"], TODAY, {"A1": "zerodha", "A2": "zerodha"}, no_modify)
    assert error.value.field == "legs[0].trailing"


def test_known_brokers_support_stops_and_modification():
    from chalicelib.domain.broker_support import broker_capabilities

    for broker in ("zerodha", "angelone", "upstox", "fyers", "dhan", "shoonya", "zebu", "paper"):
        support = broker_capabilities(broker)
        assert support.stop_limit_orders and support.modify_orders
        assert support.max_modifications >= 10
    assert not broker_capabilities("zerodha", date(2020, 1, 1)).stop_limit_orders


def test_unknown_and_duplicate_accounts():
    with pytest.raises(ValidationFailed) as error:
        check_strategy(strategy(), ["A1"], TODAY)
    assert error.value.field == "allocations[1].account_id"
    duplicated = strategy(allocations=[{"account_id": "A1"}, {"account_id": "A1"}])
    with pytest.raises(ValidationFailed) as error:
        check_strategy(duplicated, ["A1", "A2"], TODAY)
    assert error.value.field == "allocations[1].account_id"


def test_lots_are_freeze_limited_per_underlying():
    # NIFTY: 27 lots per order x 10 orders = 270 lots at most; multiplier 2 on A2
    body = four_leg_strategy("B1", "A1", "A2")
    body["legs"][0]["lots"] = 135
    check_strategy(StrategyIn.model_validate(body).to_domain(), ["A1", "A2"], TODAY)
    body["legs"][0]["lots"] = 136
    with pytest.raises(ValidationFailed) as error:
        check_strategy(StrategyIn.model_validate(body).to_domain(), ["A1", "A2"], TODAY)
    assert error.value.field == "legs[0].lots"


def test_next_month_beyond_the_published_calendar_still_validates():
    check_strategy(strategy(expiry="next_month"), ["A1", "A2"], TODAY)


def test_strike_values_are_checked_by_method():
    body = four_leg_strategy("B1", "A1", "A2")
    body["legs"][3]["strike"] = {"method": "DELTA", "value": "1.5"}
    with pytest.raises(ValidationFailed) as error:
        check_strategy(StrategyIn.model_validate(body).to_domain(), ["A1", "A2"], TODAY)
    assert error.value.field == "legs[3].strike.value"


def test_percent_levels_are_bounded():
    body = four_leg_strategy("B1", "A1", "A2")
    body["legs"][2]["stop_loss"] = {"type": "PERCENT", "value": "5000"}
    with pytest.raises(ValidationFailed) as error:
        check_strategy(StrategyIn.model_validate(body).to_domain(), ["A1", "A2"], TODAY)
    assert error.value.field == "legs[2].stop_loss.value"


def test_document_round_trip():
    original = strategy(exit={"time": "15:15:00", "days": ["MON", "TUE", "WED", "THU", "FRI"]})
    document = to_document(original)
    assert from_document(document) == original
    assert document["legs"][1]["allocations"] == [{"account_id": "A1", "multiplier": "1"}]
    assert "allocations" not in document["legs"][0]


def test_leg_level_allocation_per_account():
    plan = strategy().legs_by_account()
    assert [leg.index for leg in plan["A1"]] == [0, 1, 2, 3]
    assert [leg.index for leg in plan["A2"]] == [0, 2, 3]
    assert {leg.multiplier for leg in plan["A2"]} == {Decimal(2)}


def test_schedule_entries_per_phase_and_weekday():
    entries = schedule_entries("S1", strategy(entry={"time": "09:20:15", "days": ["MON", "THU"]}))
    keys = sorted((e.phase, e.weekday, e.fire_time, e.hhmm) for e in entries)
    assert keys == [
        (Phase.ENTRY, Weekday.MON, "09:20:15", "0920"),
        (Phase.ENTRY, Weekday.THU, "09:20:15", "0920"),
        (Phase.EXIT, Weekday.MON, "15:15:00", "1515"),
        (Phase.EXIT, Weekday.THU, "15:15:00", "1515"),
    ]
    assert set(entries[0].payload["accounts"]) == {"A1", "A2"}


def test_shards_are_stable_and_spread():
    assert shard_of("u", "s", 4) == shard_of("u", "s", 4)
    spread = {shard_of(f"u{i}", "s", 4) for i in range(200)}
    assert spread == {0, 1, 2, 3}


def test_weekday_of_a_date():
    assert Weekday.of(date(2026, 11, 23)) is Weekday.MON
    assert Weekday.of(date(2026, 11, 27)) is Weekday.FRI
    assert strategy().entry_time == time(9, 20)


def test_weekly_labels_exist_only_where_the_dated_rules_list_weeklies():
    """Only NIFTY and SENSEX list weeklies since 2024-11-20; BANKNIFTY had them before."""
    for underlying in ("BANKNIFTY", "FINNIFTY", "MIDCPNIFTY"):
        for label in ("current_week", "next_week"):
            with pytest.raises(ValidationFailed) as refused:
                check_strategy(strategy(underlying=underlying, expiry=label), ["A1", "A2"], TODAY)
            assert refused.value.field == "expiry"
            assert "use one of: current_month, next_month" in str(refused.value)
        check_strategy(strategy(underlying=underlying, expiry="next_month"), ["A1", "A2"], TODAY)
    check_strategy(strategy(underlying="SENSEX", expiry="next_week"), ["A1", "A2"], TODAY)
    from chalicelib.domain.expiry import ExpiryChoice, choices_for
    from chalicelib.domain.underlying import Underlying

    assert ExpiryChoice.CURRENT_WEEK in choices_for(Underlying.BANKNIFTY, date(2024, 11, 1))


def test_a_stored_weekly_label_is_not_built_as_the_monthly():
    """A strategy stored before the rule (or before the exchange dropped the weekly) is skipped
    at build time with the reason, never sent for another contract."""
    from chalicelib.domain.expiry import ExpiryChoice
    from chalicelib.domain.market_errors import NoSuchExpiry
    from chalicelib.domain.market_model import MarketModel
    from chalicelib.domain.underlying import Underlying

    market = MarketModel()
    with pytest.raises(NoSuchExpiry) as refused:
        market.require_choice(Underlying.BANKNIFTY, ExpiryChoice.CURRENT_WEEK, TODAY)
    assert refused.value.field == "expiry"
    market.require_choice(Underlying.NIFTY, ExpiryChoice.CURRENT_WEEK, TODAY)


def test_days_to_expiry_filter_is_validated_sorted_stored_and_scheduled():
    from pydantic import ValidationError

    for bad in ([True], ["1"], [-1], [46], [], [2, 2]):
        with pytest.raises(ValidationError):
            strategy(entry={"time": "09:20:00", "days": ["WED"], "dte": bad})
    chosen = strategy(entry={"time": "09:20:00", "days": ["WED"], "dte": [3, 0]})
    assert chosen.entry_dte == (0, 3)
    assert from_document(to_document(chosen)) == chosen
    assert to_document(chosen)["entry"]["dte"] == [0, 3]
    assert "dte" not in to_document(strategy())["entry"]  # absent: every entry day
    entries = schedule_entries("S1", chosen)
    assert {e.phase: e.payload.get("dte") for e in entries} == {
        Phase.ENTRY: [0, 3],
        Phase.EXIT: None,
    }
