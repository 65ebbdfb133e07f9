"""Health, the OpenAPI document, and what the schedule index holds for the caller."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from chalice import Blueprint

from chalicelib.api import responses as R
from chalicelib.api.openapi import build_openapi
from chalicelib.api.routing import Request, route
from chalicelib.domain.calendar import IST, default_calendar
from chalicelib.domain.strategy import Weekday
from chalicelib.errors import ValidationFailed

bp = Blueprint(__name__)


@route(bp, "/health", "GET", auth=False, response=R.HEALTH)
def health(req: Request) -> dict[str, Any]:
    """Liveness: answers without touching dependencies; ``now`` is the platform's clock in IST."""
    container = req.container
    body: dict[str, Any] = {
        "status": "ok",
        "stage": container.settings.stage,
        "now": container.clock().astimezone(IST).isoformat(timespec="seconds"),
    }
    if container.settings.clock_shift is not None:
        body["clock"] = "shifted"
    return body


@route(bp, "/openapi.json", "GET", auth=False, response=R.OPENAPI)
def openapi(req: Request) -> dict[str, Any]:
    """The machine-readable contract, generated from the validating schemas."""
    return build_openapi()


@route(bp, "/schedule", "GET", query=("date",), response=R.DAY_SCHEDULE)
def day_schedule(req: Request) -> dict[str, Any]:
    """The caller's entries and exits on a date, in time order (empty on a holiday, with why)."""
    day = _date_param(req.query.get("date"), req.container.clock().date())
    calendar = default_calendar()
    if not calendar.is_trading_day(day):
        reason = calendar.holiday_reason(day) or "not a trading day"
        return {"date": day, "trading_day": False, "reason": reason, "items": []}
    weekday = Weekday.of(day)
    items = [
        {
            "strategy_id": s.strategy_id,
            "phase": s.phase,
            "time": s.fire_time,
            "accounts": sorted(s.payload["accounts"]),
            "underlying": s.payload["underlying"],
        }
        for s in req.container.schedule_view.of_weekday(req.uid, weekday)
    ]
    items.sort(key=lambda i: (i["time"], i["phase"] == "ENTRY", i["strategy_id"]))
    return {"date": day, "trading_day": True, "items": items}


@route(bp, "/schedule/slots/{weekday}/{hhmm}", "GET", response=R.SLOT)
def slot(req: Request, weekday: str, hhmm: str) -> dict[str, Any]:
    """The caller's share of a GSI2 slot, read exactly as the planner reads it."""
    if weekday not in Weekday.__members__:
        raise ValidationFailed("weekday must be MON..FRI", field="weekday")
    if len(hhmm) != 4 or not hhmm.isdigit():
        raise ValidationFailed("hhmm must be four digits, e.g. 0920", field="hhmm")
    due = req.container.schedule_view.in_slot(req.uid, weekday, hhmm)
    return {
        "slot": f"{weekday}#{hhmm}",
        "items": [
            {
                "strategy_id": s.strategy_id,
                "phase": s.phase,
                "time": s.fire_time,
                "accounts": s.payload["accounts"],
            }
            for s in due
        ],
    }


def _date_param(raw: str | None, default: date) -> date:
    if not raw:
        return default
    try:
        return datetime.strptime(raw, "%Y-%m-%d").date()
    except ValueError as error:
        raise ValidationFailed("date must be YYYY-MM-DD", field="date") from error
