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
#: Rupees as decimal text (exact), or null when not set.
NULLABLE_MONEY = {"type": ["string", "null"], "pattern": r"^-?\d+(\.\d+)?$"}
DAY_LIMIT_REACHED = {
    "type": ["object", "null"],
    "description": "the day a limit was reached: entries refused and positions squared off",
    "properties": {
        "date": STRING,
        "kind": {"enum": ["LOSS", "PROFIT"]},
        "limit": STRING,
        "pnl": STRING,
        "at": STRING,
        "message": STRING,
    },
}
ACCOUNT = obj(
    {
        "id": STRING,
        "broker": STRING,
        "client_id": STRING,
        "label": STRING,
        "static_ip_note": NULLABLE_STRING,
        "status": STRING,
        "has_api_secret": BOOLEAN,
        "quote_account_id": NULLABLE_STRING,
        "daily_loss_limit": NULLABLE_MONEY,
        "daily_profit_target": NULLABLE_MONEY,
        "day_limit_reached": DAY_LIMIT_REACHED,
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
HEALTH = obj({"status": STRING, "stage": STRING}, {"now": STRING, "clock": STRING})
OPENAPI = obj({"openapi": STRING, "info": ANY_OBJECT, "paths": ANY_OBJECT})
SCHEDULE_ITEM = obj(
    {"strategy_id": STRING, "phase": {"enum": ["ENTRY", "EXIT"]}, "time": STRING,
     "accounts": {"type": "array", "items": STRING}},
    {"underlying": STRING},
)  # fmt: skip
DAY_SCHEDULE = obj(
    {"date": STRING, "trading_day": BOOLEAN, "items": {"type": "array", "items": SCHEDULE_ITEM}},
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

# ----- execution and results (api/executions.py views), typed for the web app's generated client ---
NUMBER_STRING = {"type": ["string", "number"]}  # money and prices are decimal strings
NULLABLE_NUMBER_STRING = {"type": ["string", "number", "null"]}
ORDER = obj(
    {
        "id": STRING, "execution_id": STRING, "strategy_id": STRING, "phase": STRING,
        "account_id": STRING, "broker": STRING, "tag": STRING, "side": STRING,
        "contract": ANY_OBJECT, "quantity": INTEGER, "limit_price": NULLABLE_NUMBER_STRING,
        "product": NULLABLE_STRING, "status": STRING, "broker_order_id": NULLABLE_STRING,
        "filled_quantity": INTEGER, "average_price": NULLABLE_STRING,
        "fills": {"type": "array", "items": obj(
            {"quantity": INTEGER},
            {"average_price": NULLABLE_STRING, "id": NULLABLE_STRING, "at": NULLABLE_STRING},
        )},
        "scheduled_at": STRING, "sent_at": NULLABLE_STRING, "acked_at": NULLABLE_STRING,
        "error": {}, "history": {"type": ["array", "null"], "items": ANY_OBJECT},
    }
)  # fmt: skip
ORDERS = obj({"date": STRING, "items": {"type": "array", "items": ORDER}})
EXECUTION = obj(
    {
        "id": STRING, "strategy_id": STRING, "phase": STRING, "trade_date": STRING,
        "slot": NULLABLE_STRING, "status": STRING, "summary": {}, "events": _ARRAY,
        "created_at": NULLABLE_STRING, "updated_at": NULLABLE_STRING,
    }
)  # fmt: skip
EXECUTIONS = obj({"date": STRING, "items": {"type": "array", "items": EXECUTION}})
EXECUTION_DETAIL = obj(
    {**EXECUTION["properties"], "orders": {"type": "array", "items": ORDER}},
    {"risk": {"type": ["object", "null"]}},
)
POSITION = obj(
    {
        "strategy_id": STRING, "account_id": STRING, "symbol": STRING, "contract": {},
        "net_quantity": INTEGER, "buy_quantity": INTEGER, "sell_quantity": INTEGER,
        "buy_value": STRING, "sell_value": STRING, "buy_average": NULLABLE_STRING,
        "sell_average": NULLABLE_STRING, "ltp": NULLABLE_STRING, "realised": STRING,
        "unrealised": NULLABLE_STRING, "updated_at": NULLABLE_STRING,
    }
)  # fmt: skip
POSITIONS = obj({"items": {"type": "array", "items": POSITION}})
PRICE_SOURCE = obj({"source": STRING, "live": BOOLEAN}, {"note": NULLABLE_STRING})
PNL = obj(
    {
        "date": STRING, "realised": STRING, "unrealised": STRING, "total": STRING,
        "unpriced": {"type": "array", "items": STRING}, "prices": PRICE_SOURCE,
        "positions": {"type": "array", "items": POSITION},
    }
)  # fmt: skip
PREVIEW_LEG = obj(
    {"leg": INTEGER, "side": STRING, "option_type": STRING, "lots": INTEGER, "multiplier": STRING,
     "tag": STRING},
    {"strike": STRING, "ltp": STRING, "limit_price": STRING, "quantity": INTEGER,
     "slices": {"type": "array", "items": INTEGER}, "symbol": ANY_OBJECT, "error": {}},
)  # fmt: skip
PREVIEW = obj(
    {
        "strategy_id": STRING, "at": STRING, "trading_day": BOOLEAN, "would_fire": BOOLEAN,
        "underlying": STRING, "exchange": STRING, "expiry": STRING, "spot": STRING,
        "contract": obj({"lot_size": INTEGER, "freeze_qty": INTEGER, "strike_step": STRING,
                         "tick_size": STRING}, {"max_lots_per_order": INTEGER}),
        "quotes": PRICE_SOURCE,
        "accounts": {"type": "array", "items": obj(
            {"account_id": STRING, "broker": NULLABLE_STRING,
             "legs": {"type": "array", "items": PREVIEW_LEG}})},
    }
)  # fmt: skip
NOTIFICATION = obj(
    {"id": STRING, "kind": STRING, "urgency": {"enum": ["normal", "urgent"]}, "text": STRING,
     "occurred_at": STRING,
     "deliveries": {"type": "object", "additionalProperties": STRING}},
)  # fmt: skip
NOTIFICATIONS = obj({"notifications": {"type": "array", "items": NOTIFICATION}})
CHANNEL_LIST = {"type": "array", "items": {"enum": ["in_app", "telegram", "email"]}}
NOTIFY_PREFERENCES = obj(
    {"channels": {"type": "object", "additionalProperties": CHANNEL_LIST},
     "urgent": {"type": "array", "items": STRING},
     "telegram": obj({"linked": BOOLEAN})},
)  # fmt: skip
TELEGRAM_LINK = obj({"url": STRING, "expires_at": STRING})
