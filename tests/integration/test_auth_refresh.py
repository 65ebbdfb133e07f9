"""POST /auth/refresh: the web app's silent refresh through Cognito's REFRESH_TOKEN_AUTH."""

from __future__ import annotations

import uuid

from tests.integration.conftest import Api


def _login(client) -> dict:
    anonymous = Api(client)
    email, password = f"{uuid.uuid4().hex[:10]}@example.in", "Str0ng-Passw0rd"
    created = anonymous.call(
        "POST", "/auth/signup",
        {"email": email, "password": password, "name": "Meera Das", "phone": "+919812345678",
         "state": "Kerala"},
    )  # fmt: skip
    assert created.status_code == 201, created.body
    login = anonymous.call("POST", "/auth/login", {"email": email, "password": password})
    assert login.status_code == 200, login.body
    return {**login.data, "uid": created.data["id"]}


def test_refresh_returns_tokens_that_work(client):
    tokens = _login(client)
    answer = Api(client).call("POST", "/auth/refresh", {"refresh_token": tokens["refresh_token"]})
    assert answer.status_code == 200, answer.body
    assert set(answer.data) == {"id_token", "access_token", "expires_in"}
    assert answer.data["expires_in"] > 0
    me = Api(client, answer.data["id_token"]).call("GET", "/me")
    assert me.status_code == 200, me.body
    assert me.data["id"] == tokens["uid"]


def test_refresh_refuses_missing_and_unknown_tokens(client):
    anonymous = Api(client)
    missing = anonymous.call("POST", "/auth/refresh", {})
    assert missing.status_code == 400
    assert missing.data["error"]["field"] == "refresh_token"
    empty = anonymous.call("POST", "/auth/refresh", {"refresh_token": ""})
    assert empty.status_code == 400
    assert empty.data["error"]["field"] == "refresh_token"
    forged = anonymous.call("POST", "/auth/refresh", {"refresh_token": uuid.uuid4().hex})
    assert forged.status_code == 401, forged.body
    assert "refresh" in forged.data["error"]["message"]
    assert forged.data["error"]["code"]


def test_refresh_is_in_the_openapi_document(client):
    spec = Api(client).call("GET", "/openapi.json").data
    operation = spec["paths"]["/auth/refresh"]["post"]
    assert "security" not in operation
    body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert spec["components"]["schemas"][body.rsplit("/", 1)[1]]["required"] == ["refresh_token"]
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok["required"] == ["access_token", "expires_in", "id_token"]
