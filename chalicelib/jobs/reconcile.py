"""End-of-day reconciliation (15:45 IST on weekdays): a recovery sweep, then settle every
execution of the day that is not final yet, so an order the tick's settle step left open (a resting LIMIT, a Lambda that timed
out) still reaches its terminal state and its fills reach the positions."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from chalicelib.container import Container
from chalicelib.domain.calendar import IST
from chalicelib.domain.strategy import ExitReason
from chalicelib.jobs import recovery

log = logging.getLogger(__name__)
FINAL = frozenset({"COMPLETE", "PARTIAL", "FAILED", "UNWOUND", "SKIPPED", "WAITING"})


def end_of_day(
    container: Container, now: datetime | None = None, users: Sequence[str] | None = None
) -> dict[str, Any]:
    """The day's reconciliation for every user with a broker account (or only ``users``)."""
    day = (now or container.clock()).astimezone(IST).date().isoformat()
    # Orders still claimed, sent or unknown are resolved against the brokers first, so no
    # execution is left SENT by an order nobody will ever record.
    swept = recovery.sweep(container, now, users)
    if users is None:
        users = container.recovery.users()
    users = list(users)
    settled: dict[str, str] = dict(swept["settled"])
    for uid in users:
        for execution in container.executions.executions_on(uid, day):
            if execution.status in FINAL:
                continue
            try:
                report = container.settlement.settle(uid, execution.sk)
                settled[execution.sk] = report.status
            except Exception:
                log.exception(
                    "reconciliation failed", extra={"user": uid, "execution": execution.sk}
                )
                settled[execution.sk] = "ERROR"
    closed_books = 0
    for book in container.risk.books.live(day):  # after the close: nothing left to guard
        if book.uid not in users:
            continue
        container.risk.freeze(book.uid, day, book.strategy_id, ExitReason.EXIT_TIME, None)
        closed_books += 1
    log.info("end of day reconciled", extra={"date": day, "executions": len(settled)})
    container.notifications.day_report(day, users)  # queued; built and sent off this job
    return {"date": day, "users": len(users), "settled": settled, "risk_books_closed": closed_books,
            "recovery": swept}  # fmt: skip
