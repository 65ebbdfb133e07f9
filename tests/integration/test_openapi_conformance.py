"""A bounded schemathesis run against the app (issue #10, deliver 8): every operation of
/openapi.json, generated requests (valid and invalid) with a real caller's token, through Chalice's
local gateway on the emulator. No answer may be a 5xx; every status, media type and 2xx body must
be the one the document declares.

Bounded for `make test`: at most SCHEMATHESIS_EXAMPLES (default 25) per operation and mode.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote

import pytest
import schemathesis
from chalice.config import Config
from chalice.local import LocalGateway, LocalGatewayException
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.conftest import sign_up

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "25"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def wsgi_app(gateway: LocalGateway) -> Any:
    """Chalice's local gateway (what `chalice local` and its test client use) as a WSGI app, so
    schemathesis can drive the app in process."""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        raw_path = environ.get("PATH_INFO", "/").encode("latin-1")
        path = quote(raw_path, safe="/%:@!$&'()*+,;=-._~")
        if environ.get("QUERY_STRING"):
            path += "?" + environ["QUERY_STRING"]
        headers = {
            key[5:].replace("_", "-").lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        try:
            answer = gateway.handle_request(environ["REQUEST_METHOD"], path, headers, body)
            status, out_headers, out = answer["statusCode"], answer["headers"], answer["body"]
        except LocalGatewayException as error:
            status, out_headers, out = error.CODE, error.headers, error.body
        if isinstance(out, str):
            out = out.encode()
        start_response(f"{status} X", [(k, str(v)) for k, v in (out_headers or {}).items()])
        return [out or b""]

    return app


def _operations() -> list[Any]:
    """(method, path, mode) for every operation; invalid data only where there is input."""
    import app  # noqa: F401 - registers the routes
    from chalicelib.api.openapi import build_openapi

    paths = build_openapi()["paths"]
    cases = []
    for path in sorted(paths):
        for method, operation in sorted(paths[path].items()):
            has_input = operation["parameters"] or "requestBody" in operation
            modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if has_input else [])
            cases.extend(
                pytest.param(method.upper(), path, mode, id=f"{method.upper()} {path} {mode.value}")
                for mode in modes
            )
    return cases


SENT: list[int] = []  # one status per request sent, for the figures printed at the end


@pytest.fixture(scope="module")
def api_schema(client) -> Any:
    from app import app as chalice_app

    gateway = LocalGateway(chalice_app, Config.create(chalice_stage="test"))
    return schemathesis.openapi.from_wsgi("/openapi.json", wsgi_app(gateway))


@pytest.fixture(scope="module")
def token(client) -> str:
    return sign_up(client, "Schema Thesis")[0].token


@pytest.mark.parametrize(("method", "path", "mode"), _operations())
def test_every_operation_conforms(api_schema, token, method, path, mode):
    operation = api_schema[path][method]
    headers = {"Authorization": f"Bearer {token}"}

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def conforms(case: Any) -> None:
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        SENT.append(response.status_code)

    conforms()


def test_the_run_was_not_empty(capsys):
    """Runs after the operations (file order): prints the figures, fails if nothing was sent."""
    assert len(SENT) >= len(_operations())
    statuses: dict[int, int] = {}
    for status in SENT:
        statuses[status] = statuses.get(status, 0) + 1
    with capsys.disabled():
        print(
            f"\nschemathesis: {len(SENT)} requests over {len(_operations())} operation modes, "
            f"statuses {dict(sorted(statuses.items()))}"
        )
