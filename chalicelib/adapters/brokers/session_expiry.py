"""When a broker session stops working: dated per-broker rules from ``session_expiry.json``.

Tokens die on the broker's schedule, not ours (Kite at 06:00 IST, Upstox at 03:30 IST, Dhan after
the validity the user chose). The rules are data with a source and an effective date, loaded and
validated once; a broker that returns an explicit expiry in its token reply wins over the rule.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

IST = ZoneInfo("Asia/Kolkata")
DATA_FILE = Path(__file__).with_name("session_expiry.json")


@dataclass(frozen=True, slots=True)
class ExpiryRule:
    """One broker's rule from ``effective_from``: ``daily_at`` a wall-clock time or ``after``."""

    broker: str
    effective_from: date
    daily_at: time | None = None
    after: timedelta | None = None

    def expiry(self, issued_at: datetime) -> datetime:
        """Expiry of a session issued at ``issued_at`` (aware), in IST."""
        issued = issued_at.astimezone(IST)
        if self.after is not None:
            return issued + self.after
        assert self.daily_at is not None
        candidate = datetime.combine(issued.date(), self.daily_at, tzinfo=IST)
        return candidate if candidate > issued else candidate + timedelta(days=1)


def rules_from_document(document: dict) -> tuple[ExpiryRule, ...]:
    """Parse and validate the JSON document (ValueError naming the entry on any defect)."""
    rules = []
    for i, entry in enumerate(document["entries"]):
        try:
            kind = entry["rule"]
            base = {
                "broker": entry["broker"],
                "effective_from": date.fromisoformat(entry["effective_from"]),
            }
            if kind == "daily_at":
                rule = ExpiryRule(**base, daily_at=time.fromisoformat(entry["at"]))
            elif kind == "after_hours":
                rule = ExpiryRule(**base, after=timedelta(hours=float(entry["hours"])))
            else:
                raise ValueError(f"unknown rule {kind!r}")
        except (KeyError, ValueError, TypeError) as exc:
            raise ValueError(f"session_expiry.json entries[{i}]: {exc}") from exc
        rules.append(rule)
    return tuple(sorted(rules, key=lambda r: (r.broker, r.effective_from)))


@cache
def default_rules() -> tuple[ExpiryRule, ...]:
    """Rules from the packaged file (read on first use, never at import)."""
    return rules_from_document(json.loads(DATA_FILE.read_text(encoding="utf-8")))


def session_expiry(
    broker: str,
    issued_at: datetime,
    *,
    broker_expiry: datetime | None = None,
    rules: tuple[ExpiryRule, ...] | None = None,
) -> datetime:
    """When a session of ``broker`` issued at ``issued_at`` expires (aware IST datetime)."""
    if issued_at.tzinfo is None:
        raise ValueError("issued_at must be timezone-aware")
    if broker_expiry is not None:
        return broker_expiry.astimezone(IST)
    day = issued_at.astimezone(IST).date()
    in_force = [
        r for r in (rules or default_rules()) if r.broker == broker and r.effective_from <= day
    ]
    if not in_force:
        raise ValueError(f"no session-expiry rule for {broker} on {day}")
    return in_force[-1].expiry(issued_at)
