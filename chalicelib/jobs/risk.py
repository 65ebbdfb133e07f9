"""The price monitor's loop and the arming step after an entry settles, as plain functions.

Locally the clock process runs ``monitor`` in a thread for the whole session. On AWS a scheduled
Lambda runs it for just under five minutes every five minutes of the session (the schedule and
timeout live in app.py and .chalice/config.json): the same one-second semantics for about 76
invocations a day. Overlapping runs are safe, because every transition is claimed on the risk
book's version before any broker call.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from chalicelib.container import Container
from chalicelib.domain.calendar import IST, default_calendar
from chalicelib.jobs import alerts
from chalicelib.services.exit_guard import exit_lease_owner
from chalicelib.services.settlement import TERMINAL

log = logging.getLogger(__name__)
INTERVAL = 1.0
LAMBDA_RUN = timedelta(seconds=295)  # cycles start until just before the next run (every 5 min)
#: A cycle starts only with this much of the Lambda's time left: a cold cycle that downloads and
#: parses an instrument master takes up to about 60 s, and a cycle cut by the timeout leaves its
#: closes in doubt. The function's timeout (.chalice/config.json, 360 s) leaves this after LAMBDA_RUN.
CYCLE_RESERVE = timedelta(seconds=65)
#: Account day limits are judged every this many monitor cycles (prices every account's day).
LIMITS_EVERY = 5


ARM_ATTEMPTS = 3


def arm(
    container: Container, uid: str, execution_sk: str, *, pause: float = 0.5
) -> dict[str, Any] | None:
    """After an ENTRY settles: the risk book and its stop orders (None: nothing to guard).
    After an EXIT settles: its close leases are given back (``release_exit_leases``).

    Arming is idempotent (the book is created once), so a failure is retried a few times; if it
    still fails the filled legs have no stop, which is said loudly: logged as an error and, when
    the table answers, recorded as an alert on the execution.
    """
    try:
        if release_exit_leases(container, uid, execution_sk) is not None:
            return None
    except Exception:  # the leases expire by themselves
        log.exception("exit leases not released", extra={"execution": execution_sk})
    for attempt in range(ARM_ATTEMPTS):
        try:
            book = container.risk.arm(uid, execution_sk)
        except Exception:
            log.exception("arming the risk book failed", extra={"execution": execution_sk})
            time.sleep(pause * (attempt + 1))
            continue
        return None if book is None else {"book": book.sk, "guards": len(book.guards)}
    message = "risk book not armed: stop-losses were NOT placed for this entry"
    log.error(message, extra={"user": uid, "execution": execution_sk})
    try:
        container.risk.record_event(
            uid, execution_sk,
            {"kind": "alert", "code": "risk_not_armed", "urgent": True, "message": message},
        )  # fmt: skip
    except Exception:
        log.exception("could not record the arming alert")
    outcome: dict[str, Any] = {"error": message, "user": uid, "execution": execution_sk}
    try:
        alerts.publish(container, "Stop-losses NOT placed for an entry", outcome)
    except Exception:
        log.exception("could not publish the arming alert")
    return outcome


def release_exit_leases(container: Container, uid: str, execution_sk: str) -> int | None:
    """An exit's orders all ended (settled): the close leases its hook took at T are given back
    at once, so the monitor finishing a guard handed back to it (a stop whose cancel was not
    confirmed) goes on now instead of when the lease expires (``exit_guard.LEASE_TTL``). Safe:
    what the exit sent is known and in the positions; the monitor closes only its guard's units.
    None when ``execution_sk`` is not an exit; else the number of leases given back."""
    executions = container.executions
    execution = executions.get_execution(uid, execution_sk)
    if execution.phase != "EXIT":
        return None
    listed = [o.order_id for o in executions.orders_of_execution(uid, execution_sk)]
    orders = executions.orders(uid, execution.trade_date, listed)  # consistent reads
    if any(o.status not in TERMINAL for o in orders):
        return 0  # still working: the lease expires by itself (or the next settle gives it)
    prefix = exit_lease_owner(execution.strategy_id, date.fromisoformat(execution.trade_date))
    accounts = {o.account_id for o in orders}
    released = [
        a for a in sorted(accounts)
        if container.leases.release_family(uid, execution.strategy_id, a, f"{prefix}:")
    ]  # fmt: skip
    if released:
        log.info("exit leases released", extra={"execution": execution_sk, "accounts": released})
    return len(released)


def in_session(moment: datetime) -> bool:
    day = moment.astimezone(IST)
    calendar = default_calendar()
    if not calendar.is_trading_day(day.date()):
        return False
    opens, closes = calendar.fo_session_bounds(day.date())
    return opens <= day.time() < closes


def monitor(
    container: Container,
    *,
    run_for: timedelta | None = None,
    interval: float = INTERVAL,
    stop: threading.Event | None = None,
    remaining: Callable[[], float] | None = None,
) -> dict[str, Any]:
    """Run monitor cycles every ``interval`` seconds during the session, for ``run_for`` (or
    until ``stop`` is set); one failing cycle is logged and the next one runs. ``remaining``
    (seconds left before the Lambda's timeout) stops it before a cycle could be cut short."""
    stop = stop or threading.Event()
    started = time.monotonic()
    cycles = failed = 0
    while not stop.is_set():
        if run_for is not None and time.monotonic() - started >= run_for.total_seconds():
            break
        if remaining is not None and remaining() < CYCLE_RESERVE.total_seconds():
            log.warning("risk monitor stopped early: too little time left for a cycle")
            break
        began = time.monotonic()
        if in_session(container.clock()):
            try:
                figures = container.risk.cycle()
                cycles += 1
                failed += figures.get("failed", 0)
            except Exception:
                failed += 1
                log.exception("risk cycle failed")
            if cycles % LIMITS_EVERY == 1 or LIMITS_EVERY == 1:
                day_limits(container)  # its failures are logged; they are not the books'
        stop.wait(max(0.0, interval - (time.monotonic() - began)))
    return {"cycles": cycles, "failed": failed}


def day_limits(container: Container) -> int:
    """One check of the accounts' day limits (services/day_limits.py); the failures."""
    try:
        return int(container.day_limits.check().get("failed", 0))
    except Exception:
        log.exception("day limit check failed")
        return 1


def lambda_run(
    container: Container, remaining: Callable[[], float] | None = None
) -> dict[str, Any]:
    """The scheduled Lambda: nothing outside the session, else one five-minute stretch whose last
    cycle starts with at least CYCLE_RESERVE of the timeout left (``remaining``, in seconds)."""
    if not in_session(container.clock()):
        return {"cycles": 0, "skipped": "outside the F&O session"}
    return monitor(container, run_for=LAMBDA_RUN, remaining=remaining)
