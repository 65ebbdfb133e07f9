"""The one place a request becomes a call and an error becomes an HTTP answer.

`route()` wraps every view: it authenticates (unless public), parses and validates the JSON body with
its schema, runs the view, and maps DomainError (and market-rule errors) to
``{"error": {"code", "message", "field"}}``. Unexpected exceptions are logged and answered with an
opaque 500 that never leaks internals. Each route also records its schema for /openapi.json.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any

from chalice import Blueprint, Response
from pydantic import BaseModel, ValidationError

from chalicelib.container import Container, get_container
from chalicelib.domain.market_errors import MarketDataError, MarketRuleError
from chalicelib.errors import (
    DomainError,
    NotFound,
    Unauthenticated,
    Unprocessable,
    ValidationFailed,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RouteDoc:
    path: str
    method: str
    summary: str
    auth: bool
    body: type[BaseModel] | None
    status: int
    query: tuple[str, ...] = ()
    response: dict[str, Any] | None = None  # JSON Schema of the 2xx body (None: any object)


ROUTES: list[RouteDoc] = []


@dataclass
class Request:
    """What a view needs of the request: the caller, the parsed body, query, path params."""

    container: Container
    uid: str
    body: Any
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


def field_path(loc: tuple[int | str, ...]) -> str:
    """('legs', 2, 'strike', 'value') -> 'legs[2].strike.value'."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path else "") + str(part)
    return path


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def json_response(body: Any, status: int = 200) -> Response:
    if status == 204:  # No Content means no body at all, not `null`
        return Response(body="", status_code=204)
    return Response(
        body=json.dumps(body, default=_json_default),
        status_code=status,
        headers={"Content-Type": "application/json"},
    )


def error_response(error: DomainError) -> Response:
    return json_response(error.body(), error.status)


def market_error(error: MarketRuleError) -> DomainError:
    """Bad input to a market rule is a 400; data the market model lacks is a 422."""
    kind = Unprocessable if isinstance(error, MarketDataError) else ValidationFailed
    return kind(str(error), field=error.field, code=error.code or "market_rule")


#: No request body of ours nests deeper than 6; a deep document is an attack on the parser.
MAX_DEPTH = 16


def load_json_object(raw: bytes | str | None) -> dict[str, Any]:
    """The request body as a JSON object, or a 400: bad JSON, not an object, nested too deep."""
    try:
        document = json.loads(raw or b"{}")
    except RecursionError as error:
        raise ValidationFailed("the body is nested too deeply", code="invalid_json") from error
    except (ValueError, UnicodeDecodeError) as error:
        raise ValidationFailed("the body is not valid JSON", code="invalid_json") from error
    if not isinstance(document, dict):
        raise ValidationFailed("the body must be a JSON object", code="invalid_json")
    if _depth(document) > MAX_DEPTH:
        raise ValidationFailed(
            f"the body is nested more than {MAX_DEPTH} levels deep", code="invalid_json"
        )
    return document


def _depth(document: Any) -> int:
    """Nesting depth without recursion (the document may be as deep as the parser allowed)."""
    deepest, stack = 0, [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, depth)
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)
    return deepest


def parse_body(raw: bytes | str | None, schema: type[BaseModel]) -> BaseModel:
    document = load_json_object(raw)
    try:
        return schema.model_validate(document)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        loc = tuple(p for p in first["loc"] if not str(p).startswith("function-"))
        message = first["msg"].removeprefix("Value error, ")
        raise ValidationFailed(message, field=field_path(loc) or None) from error


#: Ids are short; a key part of more than this, or one with control characters or lone
#: surrogates, names nothing and must not reach DynamoDB (which would refuse it with an error).
MAX_PARAMETER = 128
_UNSAFE_PARAMETER = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")


def check_parameters(path: dict[str, str], query: dict[str, str]) -> None:
    """A path parameter that cannot be an id is a 404; a bad query parameter is a 400."""
    for name, value in path.items():
        if len(value) > MAX_PARAMETER or _UNSAFE_PARAMETER.search(value):
            raise NotFound("not found", field=name)
    for name, value in query.items():
        if len(value) > MAX_PARAMETER or _UNSAFE_PARAMETER.search(value):
            raise ValidationFailed(
                f"{name} must be at most {MAX_PARAMETER} printable characters", field=name
            )


def authenticate(container: Container, headers: dict[str, str]) -> str:
    header = headers.get("authorization") or headers.get("Authorization") or ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("send Authorization: Bearer <id_token>")
    return container.verifier.user_id(token.strip())


def route(
    bp: Blueprint,
    path: str,
    method: str,
    *,
    auth: bool = True,
    body: type[BaseModel] | None = None,
    status: int | None = None,
    summary: str = "",
    query: tuple[str, ...] = (),
    response: dict[str, Any] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a view. ``status`` defaults to 204 for DELETE (no body) and 200 otherwise;
    ``response`` is the JSON Schema of the success body for /openapi.json."""
    status = status or (204 if method == "DELETE" else 200)

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def handler(**params: str) -> Response:
            request = bp.current_request
            try:
                container = get_container()
                headers = dict(request.headers or {})
                uid = authenticate(container, headers) if auth else ""
                check_parameters(params, dict(request.query_params or {}))
                parsed = parse_body(request.raw_body, body) if body else None
                ctx = Request(container, uid, parsed, dict(request.query_params or {}), headers)
                result = view(ctx, **params)
                if isinstance(result, Response):
                    return result
                return json_response(result, status)
            except DomainError as error:
                return error_response(error)
            except MarketRuleError as error:
                return error_response(market_error(error))
            except Exception:
                log.exception("unhandled error", extra={"path": path, "method": method})
                return json_response(
                    {"error": {"code": "internal", "message": "internal error", "field": None}},
                    500,
                )

        bp.route(path, methods=[method], cors=True)(handler)
        ROUTES.append(RouteDoc(path, method, summary or (view.__doc__ or "").strip(), auth, body,
                               status, query, response))  # fmt: skip
        return handler

    return decorator


# ----- answers Chalice gives by itself ------------------------------------------------------------
_CHALICE_ERRORS = {
    400: "bad_request",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    500: "internal",
    502: "internal",
}


def error_envelope(event: Any, get_response: Callable[[Any], Response]) -> Response:
    """HTTP middleware: Chalice's own errors (405 wrong method, 415 wrong media type, its 500)
    come as ``{"Code", "Message"}``; give them the API's one error envelope instead. Messages
    are ours, so nothing of the request (a token, a header) is echoed."""
    response = get_response(event)
    body = response.body
    if response.status_code >= 400 and isinstance(body, dict) and "Code" in body:
        code = _CHALICE_ERRORS.get(response.status_code, "bad_request")
        message = {
            405: "this route does not support that method",
            415: "send the body as application/json",
        }.get(response.status_code, code.replace("_", " "))
        answer = json_response(
            {"error": {"code": code, "message": message, "field": None}}, response.status_code
        )
        if response.status_code == 405:  # which methods the route has: useful, not echoed
            answer.headers.update(
                {k: v for k, v in response.headers.items() if k.lower() == "allow"}
            )
        return answer
    return response


def cors_origin(event: Any, get_response: Callable[[Any], Response]) -> Response:
    """HTTP middleware: with the web app's URL configured (WEB_APP_URL), browsers may read answers
    only from that origin (routes declare ``cors=True``, which Chalice answers with ``*``).
    Without it (scripts, tests, the local proxy) nothing changes."""
    response = get_response(event)
    try:
        web = get_container().settings.web_app_url
    except Exception:  # a broken configuration already answered 5xx; keep that answer
        return response
    if web:
        origin = "/".join(web.split("/")[:3])  # scheme://host[:port], no path
        headers = {k: v for k, v in response.headers.items()
                   if k.lower() != "access-control-allow-origin"}  # fmt: skip
        response.headers = {**headers, "Access-Control-Allow-Origin": origin, "Vary": "Origin"}
    return response
