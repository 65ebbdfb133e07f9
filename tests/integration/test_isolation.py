"""One user never sees or touches another's data: 404 on every verb, absent from every list."""

from __future__ import annotations

import pytest

from tests.factories import four_leg_strategy


@pytest.fixture
def owned(setup):
    api = setup["api"]
    strategy = api.call(
        "POST", "/strategies", four_leg_strategy(setup["basket"], setup["a1"], setup["a2"])
    ).data
    return {
        **setup,
        "strategy": strategy["id"],
        "body": four_leg_strategy(setup["basket"], setup["a1"], setup["a2"]),
    }


def test_other_user_gets_404_on_every_verb(owned, other_user):
    s, b, a = owned["strategy"], owned["basket"], owned["a1"]
    calls = [
        ("GET", f"/strategies/{s}", None),
        ("PUT", f"/strategies/{s}", owned["body"]),
        ("PATCH", f"/strategies/{s}", {"name": "mine now"}),
        ("POST", f"/strategies/{s}/pause", {}),
        ("POST", f"/strategies/{s}/resume", {}),
        ("DELETE", f"/strategies/{s}", None),
        ("GET", f"/baskets/{b}", None),
        ("PATCH", f"/baskets/{b}", {"enabled": False}),
        ("DELETE", f"/baskets/{b}", None),
        ("GET", f"/accounts/{a}", None),
        ("PATCH", f"/accounts/{a}", {"label": "x"}),
        ("DELETE", f"/accounts/{a}", None),
    ]
    for method, path, body in calls:
        response = other_user.call(method, path, body)
        assert response.status_code == 404, (method, path, response.body)
        assert response.data["error"]["code"] == "not_found"
    for listing in ("/strategies", "/baskets", "/accounts"):
        assert other_user.call("GET", listing).data["items"] == []
    # and the owner's data is untouched
    api = owned["api"]
    assert api.call("GET", f"/strategies/{s}").data["name"] == "NIFTY short iron condor"
    assert api.call("GET", f"/strategies/{s}").data["status"] == "ACTIVE"
    assert api.call("GET", f"/baskets/{b}").data["enabled"] is True


def test_other_users_basket_cannot_hold_my_strategy(owned, other_user):
    mine = other_user.call(
        "POST", "/accounts", {"broker": "paper", "client_id": "P9", "label": "p"}
    ).data["id"]
    body = four_leg_strategy(owned["basket"], mine, mine)
    body["allocations"] = [{"account_id": mine, "multiplier": 1}]
    body["legs"][1].pop("allocations")
    response = other_user.call("POST", "/strategies", body)
    assert response.status_code == 400
    assert response.data["error"]["field"] == "basket_id"


@pytest.mark.parametrize(
    "header",
    ["", "Bearer", "Bearer not-a-jwt", "Basic dXNlcjpwYXNz", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x"],
)
def test_protected_routes_need_a_valid_token(client, header):
    headers = {"Authorization": header} if header else {}
    for path in ("/me", "/strategies", "/baskets", "/accounts", "/schedule"):
        response = client.http.get(path, headers=headers)
        assert response.status_code == 401, (path, header)


def test_token_signed_by_another_key_is_refused(client, container):
    import time

    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    settings = container.settings
    now = int(time.time())
    forged = jwt.encode(
        {"sub": "attacker", "iss": settings.jwt_issuer, "aud": settings.user_pool_client_id,
         "token_use": "id", "iat": now, "exp": now + 600},
        key,
        algorithm="RS256",
        headers={"kid": "dummy"},
    )  # fmt: skip
    response = client.http.get("/me", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
