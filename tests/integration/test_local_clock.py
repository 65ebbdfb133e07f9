"""The local clock: two clocks at once send each order once; a failing tick never stops it."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from chalicelib.domain.calendar import IST
from localdev.clock import Clock
from tests.integration.test_execution_engine import SLOT, _engine, trader  # noqa: F401


def test_two_clocks_send_each_order_once(fakes, trader):  # noqa: F811
    # Planning (quotes from two brokers) must finish before T for the entry to go at T: a lead
    # of a few seconds keeps a loaded CI machine from turning this into a late-entry test.
    engine = _engine(fakes, SLOT - timedelta(seconds=3))
    clocks = [Clock(engine), Clock(engine)]
    results: list[dict] = []
    threads = [threading.Thread(target=lambda c=c: results.append(c.tick(SLOT))) for c in clocks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sum(r.get("sent", 0) for r in results) == 7, results
    assert sum(r.get("duplicates", 0) for r in results) >= 1
    received = sum(len(s.received) for s in fakes["servers"].values())
    assert received == 7


def test_a_failing_tick_is_logged_and_the_clock_goes_on():
    class Broken:
        clock = staticmethod(lambda: SLOT)

        @property
        def planner(self):
            raise ConnectionError("emulator hiccup")

    clock = Clock(Broken())  # type: ignore[arg-type]
    figures = clock.tick(SLOT)
    assert figures["error"].startswith("ConnectionError")
    assert clock.ticks == [figures]


def test_next_slot_leaves_the_lead_for_planning():
    clock = Clock(container=None, lead=timedelta(seconds=20))  # type: ignore[arg-type]
    at = lambda h, m, s: datetime(2026, 11, 25, h, m, s, tzinfo=IST)  # noqa: E731
    assert clock.next_slot(at(9, 19, 30)) == at(9, 20, 0)  # plan at 09:19:40, still ahead
    assert clock.next_slot(at(9, 19, 39)) == at(9, 20, 0)
    assert clock.next_slot(at(9, 19, 41)) == at(9, 21, 0)  # too late to plan 09:20


def test_run_stops_when_asked(fakes):
    engine = _engine(fakes, datetime(2026, 11, 24, 9, 0, tzinfo=IST))
    clock = Clock(engine, lead=timedelta(seconds=20))
    runner = threading.Thread(target=clock.run)
    runner.start()
    clock.stop.set()
    runner.join(timeout=5)
    assert not runner.is_alive()
