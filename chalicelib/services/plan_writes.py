"""What the planner writes once an execution is built: its BUILT orders, then its summary (status
PLANNED, WAITING or SKIPPED, and why). A user's executions are written together: their orders
in one BatchWriteItem (25 a request) instead of one request per execution, then each summary;
the orders of an execution are always stored before its summary says PLANNED."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.records import ExecutionRecord
from chalicelib.errors import DependencyUnavailable
from chalicelib.ports.planning import PlanStore
from chalicelib.services.tick_plan import PlannedExecution

log = logging.getLogger("chalicelib.services.planner")
#: Orders of one BatchWriteItem: a planner writes a user's executions once they hold this many.
ORDERS_PER_WRITE = 25


@dataclass
class PlanWriter:
    executions: PlanStore
    #: (uid, execution sk) -> None, for an entry whose every leg waits (wait and trade).
    on_waiting: Callable[[str, str], Any] | None = None

    def store(self, planned: PlannedExecution, gate: ExecutionRecord) -> None:
        """One execution's orders (BUILT) and summary; a skip always says why."""
        self._put_orders([planned])
        self._summarise(planned, gate)

    def store_many(
        self, stores: list[tuple[PlannedExecution, ExecutionRecord]]
    ) -> list[PlannedExecution]:
        """Several executions' orders in one write, then each summary. Returns the executions
        not recorded (logged): an error in one summary never stops the others'."""
        failed: dict[int, PlannedExecution] = {}
        try:
            self._put_orders([planned for planned, _ in stores])
        except Exception:
            log.exception("orders not stored", extra={"user": stores[0][0].uid})
            failed = {id(p): p for p, _ in stores if p.orders}
        for planned, gate in stores:
            if id(planned) in failed:
                continue
            try:
                self._summarise(planned, gate)
            except Exception:
                log.exception(
                    "planning failed", extra={"user": planned.uid, "strategy": planned.strategy_id}
                )
                failed[id(planned)] = planned
        return list(failed.values())

    def _put_orders(self, planned: list[PlannedExecution]) -> None:
        holding = [p for p in planned if p.orders]
        if not holding:
            return
        try:
            self.executions.put_orders([o for p in holding for o in p.orders])
        except DependencyUnavailable as error:
            # Orders possibly half written: the executions say SKIPPED, so the recovery
            # sweep never sends them (it only sends BUILT orders of a PLANNED execution).
            for p in holding:
                p.errors.append({"code": "storage_unavailable", "message": str(error)})
                p.orders = []

    def _summarise(self, planned: PlannedExecution, gate: ExecutionRecord) -> None:
        waits = planned.waiting and not planned.orders and planned.phase == "ENTRY"
        if not planned.orders and not planned.errors and not waits:
            planned.errors.append({"code": "nothing_to_send", "message": "no orders to send"})
        status = "PLANNED" if planned.orders else "WAITING" if waits else "SKIPPED"
        summary: dict[str, Any] = {"orders": len(planned.orders), "errors": planned.errors}
        if status == "SKIPPED":
            first = planned.errors[0]
            summary["reason"] = f"{first.get('code')}: {first.get('message')}"
        self.executions.update_execution(gate, status=status, summary=summary)
        if waits and self.on_waiting is not None:
            # No order goes out at T, so no settle step arms the book: the monitor's book (one
            # PENDING guard per waiting leg) is created now and watches from the entry time.
            try:
                self.on_waiting(planned.uid, planned.execution_sk)
            except Exception:
                log.exception("waiting legs not armed", extra={"user": planned.uid})
