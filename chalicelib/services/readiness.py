"""Pre-market readiness: which broker accounts cannot trade today, and why.

Sessions end before each trading day (Kite ~06:00, Angel ~05:00, Upstox 03:30 IST), so every
account needs a fresh login every morning. The 08:30 job (``jobs/readiness.py``) asks this use
case for the accounts whose session does not cover today's F&O session and alerts their owners
before the first entry; on a holiday or weekend it reports the day closed and lists nobody.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.domain.calendar import IST, default_calendar
from chalicelib.domain.records import AccountRecord
from chalicelib.ports.accounts import AccountRoster
from chalicelib.services.broker_sessions import readiness_of

log = logging.getLogger(__name__)


@dataclass
class Readiness:
    accounts: AccountRoster

    def check(self, now: datetime) -> dict[str, Any]:
        """Today's summary: the date, whether it trades, how many accounts are ready and each
        one that is not (its owner, broker, session and the action to take)."""
        moment = now.astimezone(IST)
        today = moment.date()
        calendar = default_calendar()  # the one ``readiness_of`` judges each session by
        if not calendar.is_trading_day(today):
            reason = calendar.holiday_reason(today) or "not a trading day"
            return {"date": today.isoformat(), "trading_day": False, "reason": reason,
                    "not_ready": []}  # fmt: skip
        by_user: dict[str, list[AccountRecord]] = defaultdict(list)
        for account in self.accounts.all_accounts():
            by_user[account.uid].append(account)
        not_ready: list[dict[str, Any]] = []
        ready = 0
        for uid, accounts in by_user.items():
            sessions = self.accounts.sessions_of(uid)
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
        return {"date": today.isoformat(), "trading_day": True, "ready": ready,
                "not_ready": not_ready}  # fmt: skip
