"""Market reference data (calendar, expiries, contract specs) and the strategy preview."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from chalice import Blueprint

from chalicelib.api import responses as R
from chalicelib.api.routing import Request, route
from chalicelib.domain.calendar import IST, default_calendar
from chalicelib.domain.expiry import ExpiryChoice, listed_expiries
from chalicelib.domain.underlying import Underlying
from chalicelib.errors import ValidationFailed

bp = Blueprint(__name__)
MAX_CALENDAR_DAYS = 366


@route(bp, "/market/calendar", "GET", query=("from", "to"))
def calendar(req: Request) -> dict[str, Any]:
    """Trading days, holidays (with reasons) and F&O session hours between two dates."""
    today = req.container.clock().date()
    start = _date(req.query.get("from"), today, "from")
    end = _date(req.query.get("to"), start + timedelta(days=30), "to")
    if end < start:
        raise ValidationFailed("to must not be before from", field="to")
    if (end - start).days > MAX_CALENDAR_DAYS:
        raise ValidationFailed(f"ask for at most {MAX_CALENDAR_DAYS} days", field="to")
    cal = default_calendar()
    days = []
    day = start
    while day <= end:
        session = cal.session(day)
        days.append(
            {
                "date": day,
                "trading_day": cal.is_trading_day(day),
                "holiday": cal.holiday_reason(day),
                "session": None
                if session is None
                else {"open": session.open, "close": session.close, "kind": session.kind},
            }
        )
        day += timedelta(days=1)
    return {"from": start, "to": end, "days": days}


@route(bp, "/market/expiries", "GET", query=("underlying", "date"))
def expiries(req: Request) -> dict[str, Any]:
    """Expiries listed on a date, each with its kind and current/next week/month labels."""
    underlying = _underlying(req.query.get("underlying"))
    on = _date(req.query.get("date"), req.container.clock().date(), "date")
    listed = listed_expiries(underlying, on)
    return {
        "underlying": underlying,
        "date": on,
        "expiries": [
            {"date": e.date, "kind": e.kind, "labels": [label.value for label in e.labels]}
            for e in listed
        ],
    }


@route(bp, "/market/contract", "GET", query=("underlying", "date", "expiry"))
def contract(req: Request) -> dict[str, Any]:
    """Lot size, freeze limit, strike step, tick and exchange of a series on a date."""
    underlying = _underlying(req.query.get("underlying"))
    on = _date(req.query.get("date"), req.container.clock().date(), "date")
    market = req.container.market
    if req.query.get("expiry"):
        expiry = _date(req.query.get("expiry"), on, "expiry")
    else:
        expiry = market.resolve_expiry(underlying, ExpiryChoice.CURRENT_WEEK, on)
    spec = market.contract_spec(underlying, expiry, on)
    return {
        "underlying": underlying,
        "date": on,
        "expiry": expiry,
        "exchange": spec.exchange,
        "lot_size": spec.lot_size,
        "freeze_qty": spec.freeze_qty,
        "max_lots_per_order": spec.max_lots_per_order,
        "strike_step": str(spec.strike_step),
        "tick_size": str(spec.tick_size),
    }


@route(bp, "/strategies/{strategy_id}/preview", "GET", query=("at",), response=R.PREVIEW)
def preview(req: Request, strategy_id: str) -> dict[str, Any]:
    """What would be sent at `at` (default now): per account and leg, expiry, strike, symbol,
    units, slices and the protected limit price. Sends nothing."""
    raw = req.query.get("at")
    at = req.container.clock() if not raw else _moment(raw)
    return req.container.preview.preview(req.uid, strategy_id, at)


def _underlying(raw: str | None) -> Underlying:
    try:
        return Underlying((raw or "").upper())
    except ValueError as error:
        names = ", ".join(u.value for u in Underlying)
        raise ValidationFailed(f"underlying must be one of {names}", field="underlying") from error


def _date(raw: str | None, default: date, field: str) -> date:
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError as error:
        raise ValidationFailed(f"{field} must be YYYY-MM-DD", field=field) from error


def _moment(raw: str) -> datetime:
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError as error:
        raise ValidationFailed("at must be an ISO-8601 time", field="at") from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=IST)  # a bare clock time is read as IST
    return moment
