"""The kill-switch driver: runs every engaged operation's next pass until its scope is flat.

A kill switch must keep working through a broker outage, so its passes cannot live only inside
the HTTP request that engaged it. Locally the clock process runs ``loop`` in a thread (a cycle
every two seconds); on AWS the ``kill_switch_driver`` Lambda runs every minute on weekdays and,
while any operation is still ENGAGING, keeps cycling for most of its minute. Each cycle is one
GSI1 Query when nothing is engaged. Overlapping drivers are safe: a pass is claimed with a
conditional write, and every close takes the (user, strategy, account) lease.

An operation that could not finish after a few passes is published once to the alarm topic
(``jobs.alerts``) and recorded as an event on the operation; it keeps retrying with backoff.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta
from typing import Any

from chalicelib.container import Container
from chalicelib.domain.kill_switch import ENGAGING
from chalicelib.jobs import alerts

log = logging.getLogger(__name__)
INTERVAL = 2.0
LAMBDA_RUN = timedelta(seconds=50)  # inside the minute between two scheduled runs


def drive(container: Container, now: datetime | None = None) -> dict[str, Any]:
    """One cycle: every due pass, and the alerts they raise. Never raises for one operation."""
    figures: dict[str, Any] = {"passes": 0, "flat": 0, "engaging": 0, "alerts": 0}
    operations = []
    for result in container.kill_switch.drive_due(now):
        figures["passes"] += int(result.ran)
        figures["engaging" if result.item.status == ENGAGING else "flat"] += 1
        operations.append(
            {"user": result.item.uid, "operation": result.item.operation_id,
             "status": result.item.status, "ran": result.ran, "alert": result.alert is not None}
        )  # fmt: skip
        if result.alert is not None:
            figures["alerts"] += 1
            try:
                alerts.publish(container, "Kill switch cannot square off yet", result.alert)
            except Exception:
                log.exception("could not publish the kill-switch alert")
    if figures["passes"]:
        log.info("kill switch passes", extra=figures)
    return {**figures, "operations": operations}


def loop(
    container: Container,
    *,
    interval: float = INTERVAL,
    stop: threading.Event | None = None,
    run_for: timedelta | None = None,
    while_engaging: bool = False,
) -> dict[str, Any]:
    """Cycle every ``interval`` seconds until ``stop`` (or ``run_for``); with
    ``while_engaging`` it also ends at the first cycle that leaves nothing ENGAGING."""
    stop = stop or threading.Event()
    started = time.monotonic()
    cycles = failed = 0
    while not stop.is_set():
        if run_for is not None and time.monotonic() - started >= run_for.total_seconds():
            break
        began = time.monotonic()
        try:
            drive(container)
            cycles += 1
            if while_engaging and not container.kill_switch.engaging():
                break
        except Exception:
            failed += 1
            log.exception("kill switch cycle failed")
        stop.wait(max(0.0, interval - (time.monotonic() - began)))
    return {"cycles": cycles, "failed": failed}


def lambda_run(container: Container) -> dict[str, Any]:
    """The scheduled Lambda: cycles while any operation is ENGAGING, up to ``LAMBDA_RUN``."""
    return loop(container, run_for=LAMBDA_RUN, while_engaging=True)
