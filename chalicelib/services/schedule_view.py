"""The trader's view of the schedule index: what the planner will find for them on a weekday,
and in one slot, read exactly as the planner reads it (the slot query spans every user; only the
caller's share is ever answered)."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.records import ScheduleRecord
from chalicelib.ports.accounts import ScheduleReader


@dataclass
class ScheduleView:
    repo: ScheduleReader

    def of_weekday(self, uid: str, weekday: str) -> list[ScheduleRecord]:
        """The user's entries and exits on a weekday, unordered."""
        return [s for s in self.repo.user_schedule(uid) if s.sk.endswith(f"#{weekday}")]

    def in_slot(self, uid: str, weekday: str, hhmm: str) -> list[ScheduleRecord]:
        """The user's share of a GSI2 slot."""
        return [s for s in self.repo.due(weekday, hhmm) if s.uid == uid]
