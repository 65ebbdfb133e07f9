"""Bad input never reaches a 5xx or the table (issue #10, deliver 8): deep JSON, control and bidi
characters, type coercion, self-cancelling legs, and a 204 without a body."""

import json
from datetime import date

import pytest
from pydantic import ValidationError

from chalicelib.api.routing import MAX_DEPTH, json_response, load_json_object, parse_body
from chalicelib.api.schemas import AccountIn, BasketIn, BasketPatch
from chalicelib.api.strategy_schemas import StrategyIn
from chalicelib.domain.strategy_checks import check_strategy
from chalicelib.errors import ValidationFailed
from tests.factories import four_leg_strategy

TODAY = date(2026, 11, 25)


def _nested(depth: int) -> str:
    return '{"name": "x", "extra": ' + "[" * depth + "]" * depth + "}"


@pytest.mark.parametrize("depth", [MAX_DEPTH, 5_000, 200_000])
def test_deeply_nested_json_is_a_400(depth):
    with pytest.raises(ValidationFailed) as error:
        load_json_object(_nested(depth))
    assert error.value.status == 400 and error.value.code == "invalid_json"


def test_reasonable_nesting_is_parsed():
    assert load_json_object(_nested(3))["extra"] == [[[]]]


@pytest.mark.parametrize(
    "name",
    ["a\x00b", "line\nbreak", "bell\x07", "del\x7f", "c1\x85x", "evil\u202etxt.exe", "iso\u2066x",
     "pop\u202c", "fsi\u2068x\u2069"],
)  # fmt: skip
def test_control_and_bidi_characters_are_refused_in_names_and_labels(name):
    with pytest.raises(ValidationFailed) as error:
        parse_body(json.dumps({"name": name}), BasketIn)
    assert error.value.field == "name"
    account = {"broker": "paper", "client_id": "P1", "label": name}
    with pytest.raises(ValidationFailed) as error:
        parse_body(json.dumps(account), AccountIn)
    assert error.value.field == "label"
    body = four_leg_strategy("B1", "A1", "A2", name=name)
    with pytest.raises(ValidationFailed) as error:
        parse_body(json.dumps(body), StrategyIn)
    assert error.value.field == "name"


def test_tabs_and_ordinary_unicode_are_kept():
    assert parse_body(json.dumps({"name": "Nifty\tकॉन्डोर ₹"}), BasketIn).name == "Nifty\tकॉन्डोर ₹"


@pytest.mark.parametrize("lots", [True, "2", 2.0, "1"])
def test_lots_are_never_coerced(lots):
    body = four_leg_strategy("B1", "A1", "A2")
    body["legs"][0]["lots"] = lots
    with pytest.raises(ValidationFailed) as error:
        parse_body(json.dumps(body), StrategyIn)
    assert error.value.field == "legs[0].lots"


@pytest.mark.parametrize(
    ("patch", "field"),
    [({"enabled": 1}, "enabled"), ({"enabled": "true"}, "enabled"), ({"version": "2"}, "version"),
     ({"version": True}, "version")],
)  # fmt: skip
def test_flags_and_versions_are_never_coerced(patch, field):
    with pytest.raises(ValidationError) as error:
        BasketPatch.model_validate(patch)
    assert error.value.errors()[0]["loc"] == (field,)


def _legs(*legs):
    return StrategyIn.model_validate(four_leg_strategy("B1", "A1", "A2", legs=list(legs)))


SELL_CE_2 = {"side": "SELL", "option_type": "CE", "strike": {"method": "ATM_OFFSET", "value": 2},
             "lots": 1}  # fmt: skip


def test_self_cancelling_legs_are_refused_with_the_field():
    buy_back = {**SELL_CE_2, "side": "BUY", "strike": {"method": "ATM_OFFSET", "value": "2.0"}}
    with pytest.raises(ValidationFailed) as error:
        check_strategy(_legs(SELL_CE_2, buy_back).to_domain(), ["A1", "A2"], TODAY)
    assert error.value.field == "legs[1].side"
    assert error.value.code == "self_cancelling_legs"


@pytest.mark.parametrize(
    "other",
    [
        {**SELL_CE_2, "side": "BUY", "option_type": "PE"},  # a straddle-like pair
        {**SELL_CE_2, "side": "BUY", "strike": {"method": "ATM_OFFSET", "value": 6}},  # a spread
        {**SELL_CE_2, "lots": 2},  # same side: just more lots
        {**SELL_CE_2, "side": "BUY", "allocations": [{"account_id": "A2"}]},  # other accounts
    ],
)
def test_legs_that_do_not_cancel_are_accepted(other):
    first = (
        {**SELL_CE_2, "allocations": [{"account_id": "A1"}]}
        if "allocations" in other
        else SELL_CE_2
    )
    check_strategy(_legs(first, other).to_domain(), ["A1", "A2"], TODAY)


def test_a_204_has_an_empty_body():
    response = json_response(None, 204)
    assert response.status_code == 204 and response.body == ""
