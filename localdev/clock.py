"""The local clock: one long-running process that plans each minute ahead and fires on the second.

Chalice's local server serves HTTP only, so `make run` runs this beside it. Each cycle: sleep to
T - lead, plan slot T (gates, quotes, orders), fire at T on the monotonic clock, then settle the
sent orders in the background. Daily jobs run at their minute: pre-market readiness at 08:30, the
instrument-master refresh at 08:45 and end-of-day reconciliation at 15:45 IST. Any failure is
logged and the loop goes on to the next minute; two clocks at once still send each order once
(the gate and the per-order claim).

Usage: python -m localdev.clock  (settings from the environment, as `chalice local` gets them)
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from chalicelib.adapters.dynamo.models import BaseItem
from chalicelib.container import Container, get_container
from chalicelib.domain.calendar import IST, default_calendar
from chalicelib.jobs import (
    instruments,
    kill_switch,
    notify,
    readiness,
    reconcile,
    recovery,
    risk,
    telegram,
)
from chalicelib.services.clock import system_clock
from chalicelib.services.parallel_plan import plan_in_parts

log = logging.getLogger("clock")
QUIET_LOGGERS = ("httpx", "botocore", "urllib3", "chalicelib.services.planner")
#: Parts of a slot planned at once (threads), like the plan Lambdas of the tick state machine.
LOCAL_PLAN_PARTS = 4
WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
DAILY_JOBS: dict[time, str] = {
    time(8, 30): "pre_market",
    time(8, 45): "instruments",
    time(15, 45): "end_of_day",
}


@dataclass
class Clock:
    container: Container
    lead: timedelta = timedelta(seconds=20)
    stop: threading.Event = field(default_factory=threading.Event)
    settle: Callable[[Container, list[Any]], None] | None = None
    ticks: list[dict[str, Any]] = field(default_factory=list)
    # (weekday, HHMM) of every scheduled entry and exit, for "next work" in the tick line
    slots: Callable[[], set[tuple[str, str]]] = field(default=lambda: scheduled_slots())
    #: The slot is planned in this many parts (threads), as the tick state machine does.
    plan_parts: int = LOCAL_PLAN_PARTS

    def next_slot(self, now: datetime) -> datetime:
        """The first minute whose planning time (T - lead) is still ahead."""
        slot = (now + self.lead).replace(second=0, microsecond=0) + timedelta(minutes=1)
        return slot.astimezone(IST)

    def run(self) -> None:
        while not self.stop.is_set():
            slot = self.next_slot(self.container.clock())
            if self._sleep_until(slot - self.lead):
                return
            self.tick(slot)

    def tick(self, slot: datetime) -> dict[str, Any]:
        """Plan and fire one slot; never raises (the next minute must still happen)."""
        figures: dict[str, Any] = {"slot": slot.isoformat()}
        problems: list[str] = []
        try:
            plan = plan_in_parts(self.container.planner, slot, self.plan_parts)
            figures.update(plan.stats, skipped=plan.skipped, orders=len(plan.orders))
            problems.extend(plan_problems(plan))
            if plan.orders:
                figures.update(self.container.firer.fire(plan.orders))
                figures.update(lateness(slot, plan.orders))
                problems.extend(order_problems(plan.orders))
                if self.settle is not None:
                    threading.Thread(target=self._settle, args=(plan.orders,), daemon=True).start()
        except Exception as error:
            log.exception("tick failed", extra={"slot": slot.isoformat()})
            figures["error"] = f"{type(error).__name__}: {error}"
        self._daily(slot)
        self.ticks.append(figures)
        self._report(slot, figures, problems)
        return figures

    def _report(self, slot: datetime, figures: dict[str, Any], problems: list[str]) -> None:
        """One line per tick in IST, then one line per strategy/account problem."""
        try:
            upcoming = next_work(slot, self.slots())
        except Exception:  # the report never breaks the clock
            upcoming = None
        log.info("%s", tick_line(slot, figures, upcoming))
        if "late_first_ms" in figures:
            # Machine-readable for engine mode: a CloudWatch metric filter turns the last field
            # into the TickLateMs metric, alarmed above 1 s (infra/engine.tf).
            log.info("tick_late_ms %.1f", figures["late_first_ms"])
        for problem in problems:
            log.warning("  %s", problem)

    def _settle(self, orders: list[Any]) -> None:
        try:
            assert self.settle is not None
            self.settle(self.container, orders)
        except Exception:
            log.exception("settlement failed")

    def _daily(self, slot: datetime) -> None:
        job = DAILY_JOBS.get(slot.time())
        if job == "pre_market":
            try:
                summary = readiness.pre_market(self.container, slot)
                log.info("pre-market readiness: %s ready, %s not", summary.get("ready"),
                         len(summary.get("not_ready", [])))  # fmt: skip
            except Exception:
                log.exception("pre-market readiness failed")
        elif job == "instruments":
            try:
                summary = instruments.refresh(self.container, slot)
                log.info("instrument masters: %s contracts, failed %s",
                         summary.get("contracts"), summary.get("failed"))  # fmt: skip
            except Exception:
                log.exception("instrument refresh failed")
        elif job == "end_of_day":
            try:
                summary = reconcile.end_of_day(self.container, slot)
                log.info("end of day reconciled: %s", summary)
            except Exception:
                log.exception("end-of-day reconciliation failed")

    def _sleep_until(self, moment: datetime) -> bool:
        """True when asked to stop while sleeping."""
        while True:
            left = (moment - self.container.clock()).total_seconds()
            if left <= 0:
                return self.stop.is_set()
            if self.stop.wait(min(left, 1.0)):
                return True


def tick_line(slot: datetime, figures: dict[str, Any], upcoming: datetime | None) -> str:
    """``slot Tue 01 Dec 09:20 IST | due 1 | sent 4/4 | late +1.2..+6.0 ms | next work 09:22``."""
    parts = [f"slot {slot.astimezone(IST):%a %d %b %H:%M} IST"]
    if figures.get("error"):
        parts.append(f"FAILED {figures['error']}")
    elif figures.get("skipped"):
        parts.append(f"skipped ({figures['skipped']})")
    else:
        parts.append(f"due {figures.get('due', 0)}")
        orders = figures.get("orders", 0)
        parts.append(f"sent {figures.get('sent', 0)}/{orders}")
        if figures.get("failed"):
            parts.append(f"failed {figures['failed']}")
        if figures.get("duplicates"):
            parts.append(f"already taken {figures['duplicates']}")
        if "late_first_ms" in figures:
            parts.append(f"late +{figures['late_first_ms']:.1f}..+{figures['late_last_ms']:.1f} ms")
    parts.append(f"next work {_when(slot, upcoming)}")
    return " | ".join(parts)


def _when(slot: datetime, upcoming: datetime | None) -> str:
    if upcoming is None:
        return "none scheduled"
    upcoming = upcoming.astimezone(IST)
    if upcoming.date() == slot.astimezone(IST).date():
        return f"{upcoming:%H:%M} IST"
    return f"{upcoming:%a %d %b %H:%M} IST"


def lateness(slot: datetime, orders: list[Any]) -> dict[str, float]:
    """How long after T the first and the last order went out (the firer's send stamps)."""
    sent = sorted(datetime.fromisoformat(o.sent_at) for o in orders if o.sent_at)
    if not sent:
        return {}
    return {
        "late_first_ms": (sent[0] - slot).total_seconds() * 1000,
        "late_last_ms": (sent[-1] - slot).total_seconds() * 1000,
    }


def plan_problems(plan: Any) -> list[str]:
    """What the planner could not do, naming the strategy and the account."""
    lines = []
    for execution in plan.executions:
        for error in execution.errors:
            account = error.get("account_id", "-")
            lines.append(
                f"{execution.phase} strategy {execution.strategy_id} account {account}: "
                f"{error.get('code', 'error')}: {error.get('message', '')}"
            )
    return lines


def order_problems(orders: list[Any]) -> list[str]:
    """Orders the firer could not send, naming the strategy and the account."""
    return [
        f"{o.phase} strategy {o.strategy_id} account {o.account_id}: order {o.order_id} "
        f"{o.status}: {(o.error or {}).get('message', '') if isinstance(o.error, dict) else o.error}"
        for o in orders
        if o.status == "FAILED"
    ]


def scheduled_slots() -> set[tuple[str, str]]:
    """(weekday, HHMM) of every scheduled entry and exit: one scan of the small local GSI2."""
    slots = set()
    for item in BaseItem.gsi2.scan(attributes_to_get=["GSI2PK"]):
        key = item.gsi2pk or ""
        if key.startswith("SLOT#"):
            _, weekday, hhmm, _shard = key.split("#")
            slots.add((weekday, hhmm))
    return slots


def next_work(after: datetime, slots: set[tuple[str, str]], days: int = 15) -> datetime | None:
    """The first slot strictly after ``after`` on a trading day that has something scheduled."""
    calendar = default_calendar()
    start = after.astimezone(IST)
    for offset in range(days):
        day = start.date() + timedelta(days=offset)
        if not calendar.covers(day) or not calendar.is_trading_day(day):
            continue
        weekday = WEEKDAYS[day.weekday()]
        for hhmm in sorted(h for w, h in slots if w == weekday):
            moment = datetime.combine(day, time(int(hhmm[:2]), int(hhmm[2:])), tzinfo=IST)
            if moment > start:
                return moment
    return None


def settle_orders(container: Container, orders: list[Any]) -> None:
    """Settle every execution the fired orders belong to (fills, positions, leg failures)."""
    for uid, execution_sk in sorted({(o.uid, o.execution) for o in orders}):
        report = container.settlement.settle(uid, execution_sk)
        log.info("settled %s: %s", execution_sk, report.status)
        armed = risk.arm(container, uid, execution_sk)
        if armed:
            log.info("risk armed %s: %s", execution_sk, armed)


class PlatformTimeFormatter(logging.Formatter):
    """Log lines stamped with the platform's time in IST (the shifted one under `make run AT=`)."""

    def __init__(self, clock: Any, wall: Any = system_clock) -> None:
        super().__init__("%(asctime)s %(name)s %(message)s")
        self.offset: timedelta = clock() - wall()  # zero on the wall clock

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        moment = datetime.fromtimestamp(record.created, IST) + self.offset
        return f"{moment:%Y-%m-%d %H:%M:%S} IST"


def configure_logging(clock: Any) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(PlatformTimeFormatter(clock))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    # one line per tick is the point: per-request and per-call chatter only when it goes wrong
    for noisy in QUIET_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="localdev.clock")
    parser.add_argument("--lead-seconds", type=float, default=20.0)
    parser.add_argument(
        "--monitor-interval", type=float, default=1.0, help="price monitor period, seconds"
    )
    args = parser.parse_args(argv)
    container = get_container()
    configure_logging(container.clock)
    clock = Clock(container, lead=timedelta(seconds=args.lead_seconds), settle=settle_orders)
    signal.signal(signal.SIGTERM, lambda *_: clock.stop.set())
    signal.signal(signal.SIGINT, lambda *_: clock.stop.set())
    monitor = threading.Thread(
        target=risk.monitor,
        args=(clock.container,),
        kwargs={"interval": args.monitor_interval, "stop": clock.stop},
        name="risk-monitor",
        daemon=True,
    )
    monitor.start()
    threading.Thread(  # kill-switch passes until flat, also through a broker outage
        target=kill_switch.loop,
        args=(clock.container,),
        kwargs={"stop": clock.stop},
        name="kill-switch-driver",
        daemon=True,
    ).start()
    # Recovery: at once (orders a crashed clock left claimed / sent / unknown), then every 3 s.
    threading.Thread(target=recovery.loop, args=(clock.container,), kwargs={"stop": clock.stop},
                     name="recovery", daemon=True).start()  # fmt: skip
    # Notification watch each minute: resend what was never sent, ticks that did not fire,
    # sessions about to expire (jobs/notify.py; a schedule on AWS).
    threading.Thread(target=notify.loop, args=(clock.container,), kwargs={"stop": clock.stop},
                     name="notification-watch", daemon=True).start()  # fmt: skip
    # Telegram linking: no webhook locally, so the bot's updates are polled (jobs/telegram.py).
    threading.Thread(target=telegram.loop, args=(clock.container,), kwargs={"stop": clock.stop},
                     name="telegram-updates", daemon=True).start()  # fmt: skip
    log.info("price monitor running every %ss in the session", args.monitor_interval)
    log.info("clock running: plans each minute %ss ahead, fires on the second", args.lead_seconds)
    clock.run()


if __name__ == "__main__":
    main()
