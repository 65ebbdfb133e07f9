"""Pre-market readiness (08:30 IST on weekdays): which broker accounts cannot trade today.

Sessions end before each trading day (Kite ~06:00, Angel ~05:00, Upstox 03:30 IST), so every
account needs a fresh login every morning. This job lists the accounts whose session does not
cover today's session and alerts the owner through the alarm topic, before the first entry.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime
from typing import Any

from chalicelib.container import Container
from chalicelib.domain.calendar import IST, default_calendar
from chalicelib.jobs import alerts
from chalicelib.services.broker_sessions import readiness_of

log = logging.getLogger(__name__)


def pre_market(container: Container, now: datetime | None = None) -> dict[str, Any]:
    moment = (now or container.clock()).astimezone(IST)
    today = moment.date()
    calendar = default_calendar()
    if not calendar.is_trading_day(today):
        reason = calendar.holiday_reason(today) or "not a trading day"
        return {"date": today.isoformat(), "trading_day": False, "reason": reason, "not_ready": []}
    by_user: dict[str, list[Any]] = defaultdict(list)
    for account in container.repo.all_accounts():
        by_user[account.uid].append(account)
    not_ready = []
    ready = 0
    for uid, accounts in by_user.items():
        sessions = container.repo.sessions_of(uid)
        for account in accounts:
            state = readiness_of(account, sessions.get(account.account_id), moment)
            if state["usable_today"]:
                ready += 1
                continue
            not_ready.append({"uid": uid, **state})
            log.warning(
                "broker account not ready for today",
                extra={"user": uid, "account": account.account_id, "broker": account.broker},
            )
    summary = {
        "date": today.isoformat(),
        "trading_day": True,
        "ready": ready,
        "not_ready": not_ready,
    }
    if not_ready:
        alerts.publish(container, f"{len(not_ready)} broker account(s) need today's login", summary)
    return summary
