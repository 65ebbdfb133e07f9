"""Request parsing, error bodies, settings, the OpenAPI document and the emulator shim."""

import json

import pytest

from chalicelib.api.openapi import build_openapi
from chalicelib.api.routing import field_path, json_response, parse_body
from chalicelib.api.schemas import BasketIn
from chalicelib.api.strategy_schemas import StrategyIn
from chalicelib.errors import Conflict, NotFound, ValidationFailed
from chalicelib.settings import Settings
from localdev.emulator import shim


def test_field_paths():
    assert field_path(("legs", 2, "strike", "value")) == "legs[2].strike.value"
    assert field_path(("entry", "days", 0)) == "entry.days[0]"
    assert field_path(()) == ""


def test_parse_body_refuses_bad_json_and_names_fields():
    with pytest.raises(ValidationFailed) as error:
        parse_body(b"{", BasketIn)
    assert error.value.code == "invalid_json"
    with pytest.raises(ValidationFailed) as error:
        parse_body(json.dumps({"name": "x", "enabled": "maybe"}), BasketIn)
    assert error.value.field == "enabled"
    with pytest.raises(ValidationFailed) as error:
        parse_body(json.dumps({"name": "x", "colour": "red"}), BasketIn)
    assert error.value.field == "colour"
    assert parse_body(json.dumps({"name": " x "}), BasketIn).name == "x"


def test_error_bodies_and_statuses():
    assert NotFound("gone").status == 404
    assert Conflict("stale", code="version_conflict").body() == {
        "error": {"code": "version_conflict", "message": "stale", "field": None}
    }
    response = json_response(ValidationFailed("bad", field="legs[0]").body(), 400)
    assert json.loads(response.body)["error"]["field"] == "legs[0]"


def test_settings_from_env_and_jwks_urls():
    settings = Settings.from_env(
        {"TABLE_NAME": "t", "USER_POOL_ID": "ap-south-1_X", "USER_POOL_CLIENT_ID": "c",
         "SECRETS_KMS_KEY_ID": "k", "AUTO_CONFIRM_SIGNUP": "TRUE", "SCHEDULE_SHARDS": "8"}
    )  # fmt: skip
    assert (
        settings.missing() == [] and settings.auto_confirm_signup and settings.schedule_shards == 8
    )
    assert settings.jwt_issuer == "https://cognito-idp.ap-south-1.amazonaws.com/ap-south-1_X"
    assert settings.jwks_url == settings.jwt_issuer + "/.well-known/jwks.json"
    local = Settings.from_env({"USER_POOL_ID": "p", "AWS_ENDPOINT_URL": "http://127.0.0.1:4566"})
    assert local.jwks_url == "http://127.0.0.1:4566/p/.well-known/jwks.json"
    assert "TABLE_NAME" in local.missing()
    explicit = Settings.from_env({"JWKS_URL": "http://keys"})
    assert explicit.jwks_url == "http://keys"


def test_openapi_is_generated_from_the_request_schemas():
    import app  # noqa: F401 - registers the routes

    spec = build_openapi()
    assert spec["paths"]["/strategies"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ] == {"$ref": "#/components/schemas/StrategyIn"}
    assert spec["components"]["schemas"]["StrategyIn"]["additionalProperties"] is False
    assert "security" not in spec["paths"]["/health"]["get"]
    params = spec["paths"]["/strategies/{strategy_id}"]["get"]["parameters"]
    assert params[0]["name"] == "strategy_id"
    assert StrategyIn.model_json_schema()["properties"]["legs"]["maxItems"] == 10


def test_emulator_shim_answers_what_moto_lacks():
    calls = []

    def moto(environ, start_response):
        calls.append(environ)
        start_response("200 OK", [])
        return [b"moto"]

    app = shim(moto)
    status = []
    body = app({"HTTP_X_AMZ_TARGET": "AWSStepFunctions.ValidateStateMachineDefinition"},
               lambda s, h: status.append(s))  # fmt: skip
    assert json.loads(b"".join(body)) == {"result": "OK", "diagnostics": []}
    body = app(
        {"HTTP_X_AMZ_TARGET": "AWSStepFunctions.ListStateMachineVersions"}, lambda s, h: None
    )
    assert json.loads(b"".join(body)) == {"stateMachineVersions": []}
    body = app({"PATH_INFO": "/_localstack/health", "REQUEST_METHOD": "GET"}, lambda s, h: None)
    assert json.loads(b"".join(body))["services"]
    assert app({"PATH_INFO": "/"}, lambda s, h: None) == [b"moto"] and len(calls) == 1


def test_the_order_rate_budget_is_shared_through_the_table_on_aws():
    from chalicelib.adapters.brokers.dynamo_rate_limit import DynamoRateLimiter
    from chalicelib.adapters.brokers.rate_limit import SlidingWindowLimiter
    from chalicelib.adapters.dynamo.models import BaseItem, bind_table
    from chalicelib.container import Container

    meta = BaseItem.Meta
    bound = (meta.table_name, meta.region, getattr(meta, "host", None))

    base = {"TABLE_NAME": "t", "USER_POOL_ID": "p", "USER_POOL_CLIENT_ID": "c",
            "SECRETS_KMS_KEY_ID": "k", "ORDER_RATE": "6",
            "PUBLIC_API_URL": "https://api.example.com"}  # fmt: skip
    aws = Container(Settings.from_env({**base, "STAGE": "prod"})).limiter._inner
    local = Container(Settings.from_env({**base, "STAGE": "local"})).limiter._inner
    assert isinstance(aws, DynamoRateLimiter) and aws.rate == 6
    bind_table(*bound)  # a Container binds the models: leave them as other tests had them
    assert isinstance(local, SlidingWindowLimiter) and local.rate == 6
