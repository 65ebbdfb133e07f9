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
from chalicelib.errors import DomainError, Unauthenticated, Unprocessable, ValidationFailed

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


def parse_body(raw: bytes | str | None, schema: type[BaseModel]) -> BaseModel:
    try:
        document = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError) as error:
        raise ValidationFailed("the body is not valid JSON", code="invalid_json") from error
    if not isinstance(document, dict):
        raise ValidationFailed("the body must be a JSON object", code="invalid_json")
    try:
        return schema.model_validate(document)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        loc = tuple(p for p in first["loc"] if not str(p).startswith("function-"))
        message = first["msg"].removeprefix("Value error, ")
        raise ValidationFailed(message, field=field_path(loc) or None) from error


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
    status: int = 200,
    summary: str = "",
    query: tuple[str, ...] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def handler(**params: str) -> Response:
            request = bp.current_request
            try:
                container = get_container()
                headers = dict(request.headers or {})
                uid = authenticate(container, headers) if auth else ""
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
                               status, query))  # fmt: skip
        return handler

    return decorator
