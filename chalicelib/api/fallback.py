"""Unknown routes answer 404 in the API's error envelope.

Without these, Chalice's local gateway (``make run``, the test client) answers an unknown path with
API Gateway's 403 "Missing Authentication Token", echoing the Authorization header back. One
catch-all per path depth up to MAX_DEPTH; literal and parameter routes always match first. Not in
/openapi.json: they are the absence of a route.
"""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.api.routing import json_response

bp = Blueprint(__name__)
MAX_DEPTH = 8
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def not_found(**_: str) -> Response:
    """Never echoes the path or a header: the message is fixed."""
    body = {"error": {"code": "not_found", "message": "no such route", "field": None}}
    return json_response(body, 404)


for depth in range(1, MAX_DEPTH + 1):
    path = "".join(f"/{{p{n}}}" for n in range(1, depth + 1))
    bp.route(path, methods=METHODS, content_types=["*/*"])(not_found)
