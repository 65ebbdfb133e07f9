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

from chalicelib.container import Container, get_container
from chalicelib.domain.calendar import IST
from chalicelib.jobs import instruments, kill_switch, readiness, reconcile, risk

log = logging.getLogger("clock")
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
        try:
            plan = self.container.planner.plan(slot)
            figures.update(plan.stats, skipped=plan.skipped, orders=len(plan.orders))
            if plan.orders:
                figures.update(self.container.firer.fire(plan.orders))
                if self.settle is not None:
                    threading.Thread(target=self._settle, args=(plan.orders,), daemon=True).start()
        except Exception as error:
            log.exception("tick failed", extra={"slot": slot.isoformat()})
            figures["error"] = f"{type(error).__name__}: {error}"
        self._daily(slot)
        self.ticks.append(figures)
        if figures.get("orders") or figures.get("error"):
            log.info("tick %s", figures)
        return figures

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


def settle_orders(container: Container, orders: list[Any]) -> None:
    """Settle every execution the fired orders belong to (fills, positions, leg failures)."""
    for uid, execution_sk in sorted({(o.uid, o.execution) for o in orders}):
        report = container.settlement.settle(uid, execution_sk)
        log.info("settled %s: %s", execution_sk, report.status)
        armed = risk.arm(container, uid, execution_sk)
        if armed:
            log.info("risk armed %s: %s", execution_sk, armed)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="localdev.clock")
    parser.add_argument("--lead-seconds", type=float, default=20.0)
    parser.add_argument(
        "--monitor-interval", type=float, default=1.0, help="price monitor period, seconds"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    clock = Clock(get_container(), lead=timedelta(seconds=args.lead_seconds), settle=settle_orders)
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
    log.info("price monitor running every %ss in the session", args.monitor_interval)
    log.info("clock running: plans each minute %ss ahead, fires on the second", args.lead_seconds)
    clock.run()


if __name__ == "__main__":
    main()
