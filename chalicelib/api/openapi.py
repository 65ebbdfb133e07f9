"""Builds /openapi.json from the same pydantic schemas that validate requests."""

from __future__ import annotations

import re
from typing import Any

from pydantic.json_schema import models_json_schema

from chalicelib.api.routing import ROUTES

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": ["string", "null"], "examples": ["legs[2].strike.value"]},
            },
        }
    },
}


def _success(status: int, schema: dict[str, Any] | None) -> dict[str, Any]:
    """Every 2xx declares its body (any JSON object when the route names no schema); a 204 has
    none."""
    if status == 204:
        return {"description": "No Content"}
    return {
        "description": "OK",
        "content": {"application/json": {"schema": schema or {"type": "object"}}},
    }


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def build_openapi(version: str = "1.0.0") -> dict[str, Any]:
    models = sorted({r.body for r in ROUTES if r.body is not None}, key=lambda m: m.__name__)
    _, schemas = models_json_schema(
        [(m, "validation") for m in models], ref_template="#/components/schemas/{model}"
    )
    components: dict[str, Any] = dict(schemas.get("$defs", {}))
    components["Error"] = ERROR_SCHEMA
    paths: dict[str, Any] = {}
    for r in ROUTES:
        operation: dict[str, Any] = {
            "summary": r.summary.splitlines()[0] if r.summary else "",
            "responses": {
                str(r.status): _success(r.status, r.response),
                "4XX": _error("Refused; `field` names the offending input"),
                "503": _error("A dependency (DynamoDB, Cognito, a broker) is unavailable; retry"),
            },
            "parameters": [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in re.findall(r"{(\w+)}", r.path)
            ]
            + [
                {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
                for name in r.query
            ],
        }
        if r.auth:
            operation["security"] = [{"bearer": []}]
        if r.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": f"#/components/schemas/{r.body.__name__}"}
                    }
                },
            }
        paths.setdefault(r.path, {})[r.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "optexec: Indian index-options strategy executor", "version": version},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }
