"""Accounts keep secrets sealed; the profile validates Indian phone numbers and states."""

from __future__ import annotations

import json

import boto3

from tests.factories import four_leg_strategy


def test_account_secrets_are_sealed_and_never_returned(user, container, settings):
    created = user.call(
        "POST",
        "/accounts",
        {"broker": "zerodha", "client_id": "ZX1234", "label": "Kite main",
         "api_key": "kite-key-123", "api_secret": "very-secret-456"},
    )  # fmt: skip
    assert created.status_code == 201, created.body
    body = created.body.decode()
    assert "very-secret-456" not in body and "kite-key-123" not in body
    assert created.data["has_api_secret"] is True
    assert created.data["session"] == {"status": "NONE", "expires_at": None}
    listed = user.call("GET", "/accounts")
    assert "very-secret-456" not in listed.body.decode()

    uid = user.call("GET", "/me").data["id"]
    table = boto3.client(
        "dynamodb", endpoint_url=settings.aws_endpoint_url, region_name=settings.region
    )
    raw = table.get_item(
        TableName=settings.table_name,
        Key={"PK": {"S": f"USER#{uid}"}, "SK": {"S": f"ACCOUNT#{created.data['id']}"}},
    )["Item"]
    assert "very-secret-456" not in json.dumps(raw)
    item = container.repo.get_account(uid, created.data["id"])
    assert container.accounts.cipher.open(item.secret_blob, owner=uid) == {
        "api_key": "kite-key-123",
        "api_secret": "very-secret-456",
    }


def test_sealed_secret_cannot_be_opened_for_another_owner(user, container):
    import pytest

    uid = user.call("GET", "/me").data["id"]
    blob = container.accounts.cipher.seal({"api_secret": "x"}, owner=uid)
    with pytest.raises(Exception):  # noqa: B017 - KMS context or GCM tag mismatch, either refuses
        container.accounts.cipher.open(blob, owner="someone-else")


def test_account_validation_and_duplicates(user):
    bad = user.call("POST", "/accounts", {"broker": "robinhood", "client_id": "X", "label": "x"})
    assert bad.status_code == 400 and bad.data["error"]["field"] == "broker"
    bad = user.call("POST", "/accounts", {"broker": "dhan", "client_id": "has space", "label": "x"})
    assert bad.status_code == 400 and bad.data["error"]["field"] == "client_id"
    ok = user.call("POST", "/accounts", {"broker": "dhan", "client_id": "D1", "label": "x"})
    assert ok.status_code == 201
    dup = user.call("POST", "/accounts", {"broker": "dhan", "client_id": "D1", "label": "y"})
    assert dup.status_code == 409 and dup.data["error"]["code"] == "duplicate_account"


def test_account_update_and_delete(setup):
    api = setup["api"]
    a1 = setup["a1"]
    renamed = api.call("PATCH", f"/accounts/{a1}", {"label": "Renamed", "api_secret": "rotated"})
    assert renamed.status_code == 200 and renamed.data["label"] == "Renamed"
    stale = api.call("PATCH", f"/accounts/{a1}", {"label": "x", "version": 1})
    assert stale.status_code == 409
    strategy = api.call(
        "POST", "/strategies", four_leg_strategy(setup["basket"], a1, setup["a2"])
    ).data
    in_use = api.call("DELETE", f"/accounts/{a1}")
    assert in_use.status_code == 409 and in_use.data["error"]["code"] == "account_in_use"
    api.call("DELETE", f"/strategies/{strategy['id']}")
    assert api.call("DELETE", f"/accounts/{a1}").status_code == 204
    assert api.call("GET", f"/accounts/{a1}").status_code == 404


def test_profile_read_and_update(user):
    me = user.call("GET", "/me").data
    assert me["phone"] == "+919876543210" and me["state"] == "Karnataka"
    updated = user.call("PATCH", "/me", {"phone": "+91 70123 45678", "state": "delhi"})
    assert updated.status_code == 200
    assert updated.data["phone"] == "+917012345678" and updated.data["state"] == "Delhi"
    for patch, field in (({"phone": "+915123456789"}, "phone"), ({"phone": "9876543210"}, "phone"),
                         ({"state": "Atlantis"}, "state")):  # fmt: skip
        refused = user.call("PATCH", "/me", patch)
        assert refused.status_code == 400 and refused.data["error"]["field"] == field


def test_signup_validation_and_login_errors(client):
    from tests.integration.conftest import Api

    api = Api(client)
    base = {"email": "new@example.in", "password": "Str0ng-Passw0rd", "name": "N",
            "phone": "+919876543210", "state": "Kerala"}  # fmt: skip
    for field, value in (("phone", "+1 555 0100"), ("state", "Texas"), ("email", "not-an-email"),
                         ("password", "short")):  # fmt: skip
        response = api.call("POST", "/auth/signup", {**base, field: value})
        assert response.status_code == 400, (field, response.body)
        assert response.data["error"]["field"] == field
    weak = api.call("POST", "/auth/signup", {**base, "password": "alllowercase"})
    assert weak.status_code == 400 and weak.data["error"]["field"] == "password"
    assert api.call("POST", "/auth/signup", base).status_code == 201
    again = api.call("POST", "/auth/signup", base)
    assert again.status_code == 409
    wrong = api.call("POST", "/auth/login", {"email": base["email"], "password": "Wrong-Passw0rd"})
    assert wrong.status_code == 401
    nobody = api.call(
        "POST", "/auth/login", {"email": "ghost@example.in", "password": "Xx-1234567"}
    )
    assert nobody.status_code == 401


def test_public_routes(client):
    from tests.integration.conftest import Api

    api = Api(client)
    assert api.call("GET", "/health").data["status"] == "ok"
    spec = api.call("GET", "/openapi.json").data
    assert spec["openapi"].startswith("3.")
    assert "post" in spec["paths"]["/strategies"]
    strategy_schema = spec["components"]["schemas"]["StrategyIn"]
    assert {"basket_id", "legs", "entry", "exit"} <= set(strategy_schema["required"])
    assert spec["paths"]["/me"]["get"]["security"] == [{"bearer": []}]


def test_day_schedule(setup):
    api = setup["api"]
    strategy = api.call(
        "POST", "/strategies", four_leg_strategy(setup["basket"], setup["a1"], setup["a2"])
    ).data
    holiday = api.call("GET", "/schedule?date=2026-11-24").data
    assert holiday["trading_day"] is False and holiday["items"] == [] and holiday["reason"]
    weekend = api.call("GET", "/schedule?date=2026-11-28").data
    assert weekend["trading_day"] is False
    day = api.call("GET", "/schedule?date=2026-11-25").data
    assert day["trading_day"] is True
    mine = [i for i in day["items"] if i["strategy_id"] == strategy["id"]]
    assert [(i["phase"], i["time"]) for i in mine] == [("ENTRY", "09:20:00"), ("EXIT", "15:15:00")]
    bad = api.call("GET", "/schedule?date=25-11-2026")
    assert bad.status_code == 400 and bad.data["error"]["field"] == "date"
