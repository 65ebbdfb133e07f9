"""Two things nothing else records, checked every minute: a broker session about to expire and a
scheduled tick that never fired ("engine missing").

Session about to expire: a session that ends within ``session_lead`` and before today's F&O close
would stop orders and stop-loss changes mid-day (a Dhan token issued for 24 h, an explicit broker
expiry, a late login under an early rule). One event per session (the key names the account and
the session's expiry); urgent when the expiry falls inside the session's hours, where trading is
affected. A session that expires overnight, as every daily token does, is the 08:30 readiness
job's business, not this one's.

Engine missing: for each slot T of the last few minutes on a trading day, every schedule entry
due at T (the planner's own index) should by T + ``grace`` have an execution (the planner's
exactly-once gate; planning skips still record one, saying why) and, when that execution has
orders, at least one order the firer took (not BUILT). No execution: the tick was never planned
(the scheduler, the state machine or the clock is down); orders all BUILT: planned but not fired.
Either raises one urgent event per strategy and phase (the recovery sweep may still send the
orders late; the firer then reports an entry missed). The "engine late" of a tick that did fire
is reported at settlement (``translate.from_execution_event``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol

from chalicelib.domain.calendar import IST, default_calendar
from chalicelib.domain.notifications import (
    EventKind,
    NotificationEvent,
    Urgency,
    idempotency_key,
)
from chalicelib.domain.strategy import Weekday

log = logging.getLogger(__name__)
NOT_FIRED = "BUILT"  # an order the firer never took


@dataclass(frozen=True)
class Due:
    """One schedule entry: who, which strategy and phase, and its time (HH:MM[:SS] IST)."""

    uid: str
    strategy_id: str
    phase: str
    fire_time: str


@dataclass(frozen=True)
class Session:
    uid: str
    account_id: str
    account: str  # the masked label, as every notification shows an account
    expires_at: datetime


class WatchFacts(Protocol):
    def due(self, weekday: str, hhmm: str) -> list[Due]: ...

    def execution(
        self, uid: str, trade_date: str, strategy_id: str, phase: str
    ) -> tuple[str, list[str]] | None:
        """(status, its orders' statuses), or None when the planner never opened it."""
        ...

    def sessions(self) -> Iterable[Session]: ...

    def strategy_name(self, uid: str, strategy_id: str) -> str: ...


@dataclass
class Watch:
    facts: WatchFacts
    publish: Callable[[NotificationEvent], None]
    clock: Callable[[], datetime]
    login_base: str
    grace: timedelta = timedelta(seconds=30)
    lookback: timedelta = timedelta(minutes=3)
    session_lead: timedelta = timedelta(minutes=60)
    #: The session check reads every account: every few minutes is enough with an hour's lead.
    sessions_every: timedelta = timedelta(minutes=5)
    _sessions_checked: datetime | None = None

    def run(self) -> dict[str, int]:
        """One pass (every minute): missing ticks always, sessions every ``sessions_every``."""
        result = {"engine_missing": self.missing_ticks()}
        now = self.clock()
        if self._sessions_checked is None or now - self._sessions_checked >= self.sessions_every:
            self._sessions_checked = now
            result["session_expiring"] = self.expiring_sessions()
        return result

    # -- engine missing --------------------------------------------------------------------------
    def missing_ticks(self) -> int:
        """Raise ``engine_missing`` for entries due in the last few minutes that never fired."""
        now = self.clock().astimezone(IST)
        raised = 0
        for slot in self._recent_slots(now):
            for entry in self.facts.due(Weekday.of(slot.date()).value, slot.strftime("%H%M")):
                due_at = datetime.combine(slot.date(), time.fromisoformat(entry.fire_time), IST)
                if due_at + self.grace > now:
                    continue
                what = self._not_fired(entry, slot.date())
                if what is not None:
                    self.publish(self._missing(entry, due_at, what, now))
                    raised += 1
        return raised

    def _recent_slots(self, now: datetime) -> list[datetime]:
        calendar = default_calendar()
        latest = (now - self.grace).replace(second=0, microsecond=0)
        slots = []
        for back in range(int(self.lookback.total_seconds() // 60) + 1):
            slot = latest - timedelta(minutes=back)
            session = calendar.session(slot.date())
            if not calendar.is_trading_day(slot.date()) or session is None:
                continue
            if session.open <= slot.time() < session.close:
                slots.append(slot)
        return slots

    def _not_fired(self, entry: Due, day: date) -> str | None:
        found = self.facts.execution(entry.uid, day.isoformat(), entry.strategy_id, entry.phase)
        if found is None:
            return "not planned: no execution was opened for it"
        status, orders = found
        if status == "PLANNED" and orders and all(o == NOT_FIRED for o in orders):
            return f"planned but not sent: its {len(orders)} order(s) are still waiting"
        return None

    def _missing(self, entry: Due, due_at: datetime, what: str, now: datetime) -> NotificationEvent:
        key = idempotency_key(entry.uid, "engine_missing", entry.strategy_id, entry.phase,
                              due_at.isoformat())  # fmt: skip
        fields = {
            "strategy": self.facts.strategy_name(entry.uid, entry.strategy_id),
            "phase": entry.phase,
            "scheduled": due_at.strftime("%Y-%m-%d %H:%M:%S IST"),
            "reason": what,
            "action": "check your positions at the broker; the platform retries unsent orders",
        }
        log.error("engine missing", extra={"user": entry.uid, "strategy": entry.strategy_id})
        return NotificationEvent(entry.uid, EventKind.ENGINE_MISSING, key, now, fields)

    # -- session about to expire -----------------------------------------------------------------
    def expiring_sessions(self) -> int:
        """Raise ``session_expiring`` once per session that ends soon and before the close."""
        now = self.clock().astimezone(IST)
        calendar = default_calendar()
        today = now.date()
        session = calendar.session(today)
        if not calendar.is_trading_day(today) or session is None:
            return 0
        close = datetime.combine(today, session.close, IST)
        opening = datetime.combine(today, session.open, IST)
        raised = 0
        for held in self.facts.sessions():
            expires = held.expires_at.astimezone(IST)
            if not (now < expires <= now + self.session_lead and expires < close):
                continue
            key = idempotency_key(held.uid, "session_expiring", held.account_id,
                                  expires.isoformat())  # fmt: skip
            fields: dict[str, Any] = {
                "account": held.account,
                "expires": expires.strftime("%H:%M IST"),
                "action": "log in again before then, or orders and stop changes will fail",
                "login": f"{self.login_base.rstrip('/')}/accounts/{held.account_id}/login",
            }
            urgency = Urgency.URGENT if expires >= opening else Urgency.NORMAL
            self.publish(
                NotificationEvent(held.uid, EventKind.SESSION_EXPIRING, key, now, fields, urgency)
            )
            raised += 1
        return raised
