"""JSON Schemas of success bodies, for /openapi.json and the schemathesis conformance run.

Hand-written next to the views in views.py (which build these shapes): a field a view adds must be
added here, or the conformance test (tests/integration/test_openapi_conformance.py) fails when a
required field is missing or a type differs. Routes without one declare "any JSON object".
"""

from __future__ import annotations

from typing import Any

STRING = {"type": "string"}
NULLABLE_STRING = {"type": ["string", "null"]}
INTEGER = {"type": "integer"}
BOOLEAN = {"type": "boolean"}
ANY_OBJECT: dict[str, Any] = {"type": "object"}


def obj(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    """An object with these required properties (more may be added later: not closed)."""
    return {
        "type": "object",
        "required": sorted(required),
        "properties": {**required, **(optional or {})},
    }


def items_of(item: dict[str, Any]) -> dict[str, Any]:
    return obj({"items": {"type": "array", "items": item}})


PROFILE = obj({"id": STRING, "email": STRING, "name": STRING, "phone": STRING, "state": STRING})
SIGNED_UP = obj({**PROFILE["properties"], "confirmed": BOOLEAN})
TOKENS = obj(
    {"id_token": STRING, "access_token": STRING, "refresh_token": STRING, "expires_in": INTEGER}
)
REFRESHED = obj({"id_token": STRING, "access_token": STRING, "expires_in": INTEGER})
CONFIRMED = obj({"confirmed": BOOLEAN})
SESSION = obj({"status": {"enum": ["NONE", "VALID", "EXPIRED"]}, "expires_at": NULLABLE_STRING})
ACCOUNT = obj(
    {
        "id": STRING,
        "broker": STRING,
        "client_id": STRING,
        "label": STRING,
        "static_ip_note": NULLABLE_STRING,
        "status": STRING,
        "has_api_secret": BOOLEAN,
        "session": SESSION,
        "version": INTEGER,
        "created_at": NULLABLE_STRING,
        "updated_at": NULLABLE_STRING,
    }
)
READINESS = obj(
    {
        "account_id": STRING,
        "broker": STRING,
        "label": STRING,
        "session": SESSION,
        "trading_day": BOOLEAN,
        "usable_today": BOOLEAN,
        "until": NULLABLE_STRING,
        "action": NULLABLE_STRING,
    }
)
LOGIN_URL = obj({"url": STRING})
LOGGED_IN = obj({"logged_in": BOOLEAN, "account": ACCOUNT})
BASKET = obj(
    {
        "id": STRING,
        "name": STRING,
        "enabled": BOOLEAN,
        "version": INTEGER,
        "created_at": NULLABLE_STRING,
        "updated_at": NULLABLE_STRING,
    }
)
STRATEGY = obj(
    {
        "id": STRING,
        "basket_id": STRING,
        "name": STRING,
        "underlying": STRING,
        "expiry": STRING,
        "product": STRING,
        "entry": obj({"time": STRING, "days": {"type": "array", "items": STRING}}),
        "exit": obj({"time": STRING}),
        "legs": {"type": "array", "items": ANY_OBJECT, "minItems": 1},
        "status": {"enum": ["ACTIVE", "PAUSED"]},
        "version": INTEGER,
        "created_at": NULLABLE_STRING,
        "updated_at": NULLABLE_STRING,
    },
    {"allocations": {"type": "array", "items": ANY_OBJECT}, "risk": ANY_OBJECT},
)
HEALTH = obj({"status": STRING, "stage": STRING})
OPENAPI = obj({"openapi": STRING, "info": ANY_OBJECT, "paths": ANY_OBJECT})
DAY_SCHEDULE = obj(
    {"date": STRING, "trading_day": BOOLEAN, "items": {"type": "array", "items": ANY_OBJECT}},
    {"reason": STRING},
)
SLOT = obj({"slot": STRING, "items": {"type": "array", "items": ANY_OBJECT}})
# The kill switch and its square-off operation (api/executions.py kill_switch_view).
_ARRAY = {"type": "array", "items": ANY_OBJECT}
KILL_SWITCH = obj(
    {
        "operation_id": NULLABLE_STRING, "scope": {"enum": ["all", "account", "strategy"]},
        "id": NULLABLE_STRING, "reason": STRING, "engaged_by": STRING, "engaged_at": STRING,
        "status": {"enum": ["ENGAGING", "FLAT"]}, "attempts": INTEGER,
        "next_attempt_at": NULLABLE_STRING, "flat_at": NULLABLE_STRING,
        "summary": {"type": ["object", "null"]}, "events": _ARRAY,
    },
)  # fmt: skip
KILL_SWITCH_ENGAGED = obj({**KILL_SWITCH["properties"], "joined": BOOLEAN})
