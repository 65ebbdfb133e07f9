"""Every invalid strategy answers 4xx naming the field, and nothing is written."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.factories import four_leg_strategy


def _set(doc: dict[str, Any], path: str, value: Any) -> None:
    parts = path.replace("]", "").replace("[", ".").split(".")
    target: Any = doc
    for part in parts[:-1]:
        target = target[int(part)] if part.isdigit() else target[part]
    last = parts[-1]
    if value is _DELETE:
        del target[last]
    elif last.isdigit():
        target[int(last)] = value
    else:
        target[last] = value


_DELETE = object()
WAIT = {"direction": "UP", "type": "PERCENT", "value": "10", "until": "10:30:00"}

CASES = [
    ("underlying", "NIFTY50", "underlying"),
    ("underlying", "RELIANCE", "underlying"),
    ("expiry", "this_week", "expiry"),
    ("product", "CNC", "product"),
    ("legs.0.side", "SHORT", "legs[0].side"),
    ("legs.1.option_type", "CALL", "legs[1].option_type"),
    ("legs.0.strike.method", "ATM_PLUS", "legs[0].strike.method"),
    ("legs.0.strike.value", 55, "legs[0].strike.value"),
    ("legs.2.strike.value", "-5", "legs[2].strike.value"),
    ("legs.0.lots", 0, "legs[0].lots"),
    ("legs.0.lots", 500, "legs[0].lots"),
    ("legs.3.lots", "two", "legs[3].lots"),
    ("legs", [], "legs"),
    ("entry.time", "09:10:00", "entry.time"),
    ("entry.time", "9:20", "entry.time"),
    ("entry.time", "15:45:00", "entry.time"),
    ("exit.time", "09:19:00", "exit.time"),
    ("exit.time", "16:00:00", "exit.time"),
    ("entry.days", ["MON", "SAT"], "entry.days[1]"),
    ("entry.days", ["MON", "MON"], "entry.days"),
    ("entry.days", [], "entry.days"),
    ("allocations.0.multiplier", 0, "allocations[0].multiplier"),
    ("allocations.1.multiplier", "-1", "allocations[1].multiplier"),
    ("allocations.0.account_id", "not-mine", "allocations[0].account_id"),
    ("legs.1.allocations", [], "legs[1].allocations"),
    ("legs.2.stop_loss.type", "RUPEES", "legs[2].stop_loss.type"),
    ("legs.2.stop_loss.value", "0", "legs[2].stop_loss.value"),
    ("risk.on_leg_failure", "PANIC", "risk.on_leg_failure"),
    ("risk.mtm_stop_loss", "-10", "risk.mtm_stop_loss"),
    ("name", "", "name"),
    ("basket_id", "nope", "basket_id"),
    ("surprise", 1, "surprise"),
    ("legs.0.surprise", 1, "legs[0].surprise"),
    ("underlying", _DELETE, "underlying"),
    # risk settings the platform cannot honour are refused, never stored and ignored
    ("legs.0.trailing", {"every": "10", "by": "5"}, "legs[0].trailing"),
    ("legs.2.trailing", {"every": "5", "by": "10"}, "legs[2].trailing.by"),
    ("legs.2.re_entry", {"mode": "RE_COST", "on": ["TARGET"]}, "legs[2].re_entry.on"),
    ("legs.2.re_entry", {"mode": "RE_SOMETIME"}, "legs[2].re_entry.mode"),
    ("risk.move_sl_to_cost", True, "risk.move_sl_to_cost"),
    ("risk.lock_and_trail", {"reach": "1000", "lock": "2000"}, "risk.lock_and_trail.lock"),
    ("risk.no_re_entry_after", "15:30:00", "risk.no_re_entry_after"),
    ("legs.3.stop_loss", {"type": "PERCENT", "value": "100"}, "legs[3].stop_loss.value"),
    # issue #15: underlying exits (the example's legs lean neither way: no target direction)
    ("risk.underlying_stop_loss", {"type": "ABSOLUTE", "value": "50"},
     "risk.underlying_stop_loss.type"),
    ("risk.underlying_stop_loss", {"type": "POINTS", "value": "0"},
     "risk.underlying_stop_loss.value"),
    ("risk.underlying_stop_loss", {"type": "PERCENT", "value": "25"},
     "risk.underlying_stop_loss.value"),
    ("risk.underlying_target", {"type": "POINTS", "value": "100"}, "risk.underlying_target"),
    ("risk.underlying_stop_loss", {"value": "100"}, "risk.underlying_stop_loss.type"),
    ("legs.2.re_entry", {"mode": "RE_EXECUTE", "on": ["TARGET"]}, "legs[2].re_entry.on"),
    # issue #15: wait and trade (entry 09:20:00, exit 15:15:00)
    ("legs.0.wait_and_trade", {**WAIT, "direction": "SIDEWAYS"}, "legs[0].wait_and_trade.direction"),
    ("legs.0.wait_and_trade", {**WAIT, "type": "ABSOLUTE"}, "legs[0].wait_and_trade.type"),
    ("legs.0.wait_and_trade", {**WAIT, "value": "0"}, "legs[0].wait_and_trade.value"),
    ("legs.0.wait_and_trade", {**WAIT, "value": "101"}, "legs[0].wait_and_trade.value"),
    ("legs.0.wait_and_trade", {**WAIT, "direction": "DOWN", "value": "100"},
     "legs[0].wait_and_trade.value"),
    ("legs.0.wait_and_trade", {**WAIT, "until": "09:20:00"}, "legs[0].wait_and_trade.until"),
    ("legs.0.wait_and_trade", {**WAIT, "until": "15:14:00"}, "legs[0].wait_and_trade.until"),
    ("legs.0.wait_and_trade", {**WAIT, "until": "25:00"}, "legs[0].wait_and_trade.until"),
    ("legs.0.wait_and_trade", {"direction": "UP", "type": "POINTS", "value": "5"},
     "legs[0].wait_and_trade.until"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "value", "field"),
    CASES,
    ids=[f"{c[0]}={'missing' if c[1] is _DELETE else c[1]!r}" for c in CASES],
)
def test_invalid_strategy_names_the_field_and_writes_nothing(setup, path, value, field):
    api = setup["api"]
    body = four_leg_strategy(setup["basket"], setup["a1"], setup["a2"])
    _set(body, path, value if value is _DELETE else copy.deepcopy(value))
    before = api.call("GET", "/strategies").data["items"]
    response = api.call("POST", "/strategies", body)
    assert 400 <= response.status_code < 500, response.body
    assert response.data["error"]["field"] == field, response.data
    assert response.data["error"]["code"]
    assert api.call("GET", "/strategies").data["items"] == before


def test_index_rules_need_an_account_that_quotes_the_index(setup):
    """Underlying exits and RE_EXECUTE read the index live; only Kite-dialect accounts quote it."""
    api = setup["api"]
    upstox = api.call(
        "POST", "/accounts", {"broker": "upstox", "client_id": "UP1", "label": "Upstox"}
    ).data["id"]
    body = four_leg_strategy(setup["basket"], upstox, upstox)
    body["allocations"] = [{"account_id": upstox, "multiplier": 1}]
    body["legs"][1].pop("allocations")
    stop = {"type": "POINTS", "value": "100"}
    refused = api.call("POST", "/strategies", {**body, "risk": {"underlying_stop_loss": stop}})
    assert refused.status_code == 400, refused.body
    assert refused.data["error"]["field"] == "risk.underlying_stop_loss"
    body["legs"][2]["re_entry"] = {"mode": "RE_EXECUTE", "max_count": 2}
    refused = api.call("POST", "/strategies", body)
    assert refused.status_code == 400, refused.body
    assert refused.data["error"]["field"] == "legs[2].re_entry.mode"
    mine = four_leg_strategy(setup["basket"], setup["a1"], setup["a2"])
    mine["legs"][2]["re_entry"] = {"mode": "RE_EXECUTE", "max_count": 2}
    mine["risk"]["underlying_stop_loss"] = {"type": "PERCENT", "value": "1.5"}
    created = api.call("POST", "/strategies", mine)
    assert created.status_code == 201, created.body
    assert created.data["risk"]["underlying_stop_loss"] == {"type": "PERCENT", "value": "1.5"}
    assert created.data["legs"][2]["re_entry"]["mode"] == "RE_EXECUTE"


def test_wait_and_trade_is_stored_and_needs_an_account_that_quotes_the_index(setup):
    api = setup["api"]
    mine = four_leg_strategy(setup["basket"], setup["a1"], setup["a2"])
    mine["legs"][0]["wait_and_trade"] = {**WAIT, "until": "10:30"}
    created = api.call("POST", "/strategies", mine)
    assert created.status_code == 201, created.body
    assert created.data["legs"][0]["wait_and_trade"] == {**WAIT, "until": "10:30:00"}
    upstox = api.call(
        "POST", "/accounts", {"broker": "upstox", "client_id": "UP2", "label": "Upstox"}
    ).data["id"]
    body = four_leg_strategy(setup["basket"], upstox, upstox)
    body["allocations"] = [{"account_id": upstox, "multiplier": 1}]
    body["legs"][1].pop("allocations")
    body["legs"][3]["wait_and_trade"] = WAIT
    refused = api.call("POST", "/strategies", body)
    assert refused.status_code == 400, refused.body
    assert refused.data["error"]["field"] == "legs[3].wait_and_trade"


def test_eleven_legs_are_refused(setup):
    api = setup["api"]
    body = four_leg_strategy(setup["basket"], setup["a1"], setup["a2"])
    body["legs"] = body["legs"] * 3
    response = api.call("POST", "/strategies", body)
    assert response.status_code == 400
    assert response.data["error"]["field"] == "legs"


def test_another_users_account_cannot_be_allocated(setup, other_user):
    theirs = other_user.call(
        "POST", "/accounts", {"broker": "zerodha", "client_id": "AB1234", "label": "Theirs"}
    ).data["id"]
    body = four_leg_strategy(setup["basket"], setup["a1"], theirs)
    response = setup["api"].call("POST", "/strategies", body)
    assert response.status_code == 400
    assert response.data["error"]["field"] == "allocations[1].account_id"


def test_leg_without_any_account_is_refused(setup):
    body = four_leg_strategy(setup["basket"], setup["a1"], setup["a2"], allocations=[])
    response = setup["api"].call("POST", "/strategies", body)
    assert response.status_code == 400
    assert response.data["error"]["field"] == "legs[0].allocations"


def test_fractional_multiplier_is_accepted(setup):
    body = four_leg_strategy(setup["basket"], setup["a1"], setup["a2"])
    body["allocations"][1]["multiplier"] = "1.5"
    response = setup["api"].call("POST", "/strategies", body)
    assert response.status_code == 201, response.body
    assert response.data["allocations"][1]["multiplier"] == "1.5"


def test_malformed_json_is_a_400(setup):
    response = setup["api"].call("POST", "/strategies", raw="{not json")
    assert response.status_code == 400
    assert response.data["error"]["code"] == "invalid_json"
    response = setup["api"].call("POST", "/strategies", raw="[1, 2]")
    assert response.status_code == 400


@pytest.mark.parametrize("underlying", ["BANKNIFTY", "FINNIFTY", "MIDCPNIFTY"])
@pytest.mark.parametrize("label", ["current_week", "next_week"])
def test_a_weekly_label_on_an_underlying_without_weeklies_names_expiry(setup, underlying, label):
    """Issue #15 item 6: it used to resolve silently to the monthly; now the trader is told."""
    body = four_leg_strategy(setup["basket"], setup["a1"], setup["a2"])
    body.update(underlying=underlying, expiry=label)
    response = setup["api"].call("POST", "/strategies", body)
    assert response.status_code == 400, response.body
    error = response.data["error"]
    assert error["field"] == "expiry"
    assert "current_month" in error["message"] and "next_month" in error["message"]
    monthly = setup["api"].call("POST", "/strategies", {**body, "expiry": "current_month"})
    assert monthly.status_code == 201, monthly.body
