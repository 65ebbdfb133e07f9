"""The API's edges (issue #10, deliver 8) through the deployed app: unknown routes, wrong methods
and media types answer in the error envelope without echoing the token; bad input is a 400 and
never stored; a DELETE is a 204 without a body; a bad confirmation is a 400."""

from __future__ import annotations

import json

import pytest

from tests.factories import four_leg_strategy
from tests.integration.conftest import Api


def _envelope(response, status: int, code: str) -> None:
    assert response.status_code == status, response.body
    assert set(response.data) == {"error"}
    assert set(response.data["error"]) == {"code", "message", "field"}
    assert response.data["error"]["code"] == code


@pytest.mark.parametrize("path", ["/nope", "/baskets/x/y/z", "/a/b/c/d/e/f/g/h"])
def test_unknown_routes_are_404_and_never_echo_the_token(user, path):
    for method in ("GET", "POST", "DELETE"):
        response = user.call(method, path)
        _envelope(response, 404, "not_found")
        assert user.token not in response.body.decode()


def test_a_wrong_method_is_405_with_allow(user):
    response = user.call("PUT", "/baskets")
    _envelope(response, 405, "method_not_allowed")
    assert set(response.headers["Allow"].replace(" ", "").split(",")) == {"GET", "POST"}
    assert user.token not in response.body.decode()


def test_a_wrong_media_type_is_415(client, user):
    response = client.http.post(
        "/baskets",
        headers={"Content-Type": "text/plain", "Authorization": f"Bearer {user.token}"},
        body="name=x",
    )
    response.data = json.loads(response.body)
    _envelope(response, 415, "unsupported_media_type")
    assert user.token not in response.body.decode()


def test_bad_input_is_400_and_never_stored(setup):
    api = setup["api"]
    before = api.call("GET", "/baskets").data["items"]
    deep = '{"name": "x", "enabled": ' + "[" * 50_000 + "]" * 50_000 + "}"
    _envelope(api.call("POST", "/baskets", raw=deep), 400, "invalid_json")
    refused = api.call("POST", "/baskets", {"name": "Weekly\u202eexe.bat"})
    _envelope(refused, 400, "validation_failed")
    assert refused.data["error"]["field"] == "name"
    _envelope(api.call("POST", "/baskets", {"name": "x", "enabled": "yes"}), 400,
              "validation_failed")  # fmt: skip
    assert api.call("GET", "/baskets").data["items"] == before
    body = four_leg_strategy(setup["basket"], setup["a1"], setup["a2"])
    body["legs"][0]["lots"] = True
    coerced = api.call("POST", "/strategies", body)
    _envelope(coerced, 400, "validation_failed")
    assert coerced.data["error"]["field"] == "legs[0].lots"
    body["legs"][0]["lots"] = 1
    body["legs"][1] = {**body["legs"][0], "side": "BUY"}
    cancelling = api.call("POST", "/strategies", body)
    _envelope(cancelling, 400, "self_cancelling_legs")
    assert cancelling.data["error"]["field"] == "legs[1].side"
    assert api.call("GET", "/strategies").data["items"] == []


def test_a_strategy_patch_is_held_to_the_same_rules(setup):
    api = setup["api"]
    created = api.call("POST", "/strategies", four_leg_strategy(setup["basket"], setup["a1"],
                                                                setup["a2"]))  # fmt: skip
    sid = created.data["id"]
    deep = '{"name": ' + "[" * 50_000 + "]" * 50_000 + "}"
    _envelope(api.call("PATCH", f"/strategies/{sid}", raw=deep), 400, "invalid_json")
    refused = api.call("PATCH", f"/strategies/{sid}", {"name": "bell\x07"})
    assert refused.data["error"]["field"] == "name"
    assert api.call("GET", f"/strategies/{sid}").data["name"] == "NIFTY short iron condor"


def test_a_delete_is_204_with_an_empty_body(user):
    basket = user.call("POST", "/baskets", {"name": "Short-lived"}).data["id"]
    response = user.call("DELETE", f"/baskets/{basket}")
    assert response.status_code == 204
    assert response.body == b""


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-email", "code": "123456"},
        {"email": "nobody@example.in", "code": "12ab56"},
        {"email": "nobody@example.in", "code": 123456},
        {"email": "nobody@example.in"},
        {"email": "nobody@example.in", "code": "123456"},  # no such sign-up
    ],
)
def test_confirm_with_bad_parameters_is_400(client, body):
    response = Api(client).call("POST", "/auth/confirm", body)
    assert response.status_code == 400, response.body
