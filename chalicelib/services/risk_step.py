"""One pass of the monitor over one risk book: decide from what was read, claim, then act.

``BookStep`` holds what the engine read for a book this cycle (prices, its risk orders) and
walks each guard through its states. Every transition that leads to a broker call is claimed
first with the book's conditional write, and every order is an intent in that write before it
is sent (``risk_intents``), so a second monitor or a restarted one resolves it by tag instead
of sending another.

The guard's states live in their own modules, mixed into ``BookStep``: ARMED in ``risk_stops``,
EXITING (and the exit-time takeover) in ``risk_exits``, CLOSED / WAITING / REENTERING in
``risk_reentry``, the strategy's P&L exits in ``risk_mtm``; what they share (the claim, the
lease, events, sending) in ``risk_step_core``.
"""

from __future__ import annotations

from chalicelib.services.guards import ARMED, CLOSED, EXITING, REENTERING, WAITING, Guard
from chalicelib.services.risk_exits import Exits
from chalicelib.services.risk_mtm import StrategyExits
from chalicelib.services.risk_reentry import ReEntries
from chalicelib.services.risk_step_core import EXIT_TAKEOVER, LEASE_TTL, past_takeover
from chalicelib.services.risk_stops import Stops

__all__ = ["EXIT_TAKEOVER", "LEASE_TTL", "BookStep", "past_takeover"]


class BookStep(StrategyExits, Stops, Exits, ReEntries):
    """One book's pass: decisions on its guards, claimed in one write, then the broker calls."""

    def advance(self, guard: Guard) -> None:
        if guard.state in (ARMED, WAITING) and past_takeover(self.book, self.now):
            self.take_over(guard)
            if guard.state != EXITING:
                return  # done, or the claim was lost: decided again next cycle
        if guard.state == ARMED:
            self.armed(guard)
        if guard.state == EXITING:
            self.exiting(guard)
        if guard.state == CLOSED:
            self.closed(guard)
        if guard.state == WAITING:
            self.waiting(guard)
        if guard.state == REENTERING:
            self.reentering(guard)
