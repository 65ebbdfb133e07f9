"""Morning instrument-master refresh (08:45 IST on weekdays, after the brokers publish the day's
files and before the first entry): downloads every configured broker master into the process's
market model and alerts when one could not be refreshed, since that broker's orders then trade on
yesterday's file (or cannot be sent at all when there is none). See
``services/instrument_refresh.py`` for where files come from and why loading is atomic."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from chalicelib.container import Container
from chalicelib.domain.calendar import IST, default_calendar
from chalicelib.jobs import alerts

log = logging.getLogger(__name__)


def refresh(container: Container, now: datetime | None = None) -> dict[str, Any]:
    today = (now or container.clock()).astimezone(IST).date()
    calendar = default_calendar()
    if not calendar.is_trading_day(today):
        reason = calendar.holiday_reason(today) or "not a trading day"
        return {"date": today.isoformat(), "trading_day": False, "reason": reason, "sources": []}
    summary = container.instruments.refresh()
    summary["trading_day"] = True
    log.info(
        "instrument masters refreshed",
        extra={"contracts": summary["contracts"], "failed": summary["failed"]},
    )
    if summary["failed"]:
        alerts.publish(
            container, f"Instrument master not refreshed: {', '.join(summary['failed'])}", summary
        )
    return summary
