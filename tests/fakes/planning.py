"""An in-memory ``PlanStore`` (``chalicelib/ports/planning.py``) with the DynamoDB adapter's
semantics: the gate is a conditional create (a second attempt is refused unless it carries the
first's token), orders are keyed by (uid, order id) and a rewrite replaces the same order, and a
store can be made unreachable to test what the planner records then."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from chalicelib.domain.calendar import IST
from chalicelib.domain.plan_parts import PlanPart
from chalicelib.errors import DependencyUnavailable
from chalicelib.ports.planning import SlotReads
from tests.fakes.records import Account, Execution, Order, Schedule, Session


class FakePlanStore:
    def __init__(self) -> None:
        #: (weekday, HHMM) -> the schedule records due then
        self.schedule: dict[tuple[str, str], list[Schedule]] = {}
        self.accounts: dict[tuple[str, str], Account] = {}
        self.sessions: dict[tuple[str, str], Session] = {}
        #: (uid, strategy id) -> why its basket is closed
        self.closed: dict[tuple[str, str], str] = {}
        self.executions: dict[tuple[str, str], Execution] = {}
        self.orders: dict[tuple[str, str], Order] = {}
        #: every write in order: ("gate" | "orders" | "summary", uid, detail)
        self.writes: list[tuple[str, str, Any]] = []
        #: raise DependencyUnavailable from put_orders / update_execution while set
        self.orders_unreachable = False
        self.summary_fails_for: set[str] = set()  # strategy ids whose summary write raises
        self._lock = threading.Lock()

    # -- arranging ----------------------------------------------------------------------------
    def add_account(self, uid: str, account_id: str, broker: str, expires_at: str | None) -> None:
        self.accounts[(uid, account_id)] = Account(
            sk=f"ACCOUNT#{account_id}", uid=uid, account_id=account_id, broker=broker,
            client_id=account_id.upper(), label=broker, status="ACTIVE",
        )  # fmt: skip
        if expires_at is not None:
            self.sessions[(uid, account_id)] = Session(
                sk=f"SESSION#{account_id}", uid=uid, account_id=account_id, broker=broker,
                sealed={}, expires_at=expires_at,
            )  # fmt: skip

    def take_gate(self, uid: str, trade_date: str, strategy_id: str, phase: str) -> None:
        """Another planner (a second clock, a duplicate trigger) holds this execution."""
        assert self.open_execution(uid, trade_date, strategy_id, phase, "", "elsewhere")

    # -- the port -----------------------------------------------------------------------------
    def read_slot(self, weekday: str, hhmm: str, part: PlanPart | None) -> SlotReads:
        due = [
            d for d in self.schedule.get((weekday, hhmm), []) if part is None or part.holds(d.uid)
        ]
        pairs = {(d.uid, a) for d in due for a in d.payload["accounts"]}
        accounts = {
            pair: (self.accounts[pair], self.sessions.get(pair))
            for pair in sorted(pairs)
            if pair in self.accounts
        }
        closed = {key: why for key, why in self.closed.items() if any(
            (d.uid, d.strategy_id) == key and d.phase == "ENTRY" for d in due)}  # fmt: skip
        return SlotReads(due, accounts, closed, requests=1 + len(pairs) // 50)

    def open_execution(
        self, uid: str, trade_date: str, strategy_id: str, phase: str, slot: str, owner: str,
        token: str | None = None,
    ) -> Execution | None:  # fmt: skip
        token = token or secrets.token_hex(8)
        sk = f"EXEC#{trade_date}#{strategy_id}#{phase}"
        with self._lock:
            held = self.executions.get((uid, sk))
            if held is not None:  # attribute_not_exists(PK) failed
                return held if held.gate_token == token else None
            gate = Execution(sk=sk, uid=uid, strategy_id=strategy_id, phase=phase,
                             trade_date=trade_date, slot=slot, status="PLANNED", owner=owner,
                             gate_token=token, events=[])  # fmt: skip
            self.executions[(uid, sk)] = gate
            self.writes.append(("gate", uid, sk))
        return gate

    def new_order(
        self, uid: str, execution_sk: str, strategy_id: str, phase: str, child: Any,
        scheduled_at: datetime, order_id: str | None = None,
    ) -> Order:  # fmt: skip
        order_id = order_id or secrets.token_hex(8)
        trade_date = scheduled_at.astimezone(IST).date().isoformat()
        return Order(
            sk=f"ORDER#{trade_date}#{order_id}", uid=uid, order_id=order_id,
            execution=execution_sk, strategy_id=strategy_id, phase=phase,
            account_id=child.account_id, broker=child.broker, tag=child.tag,
            request=child.to_dict(), status="BUILT",
            scheduled_at=scheduled_at.astimezone(IST).isoformat(timespec="milliseconds"),
            history=[],
        )  # fmt: skip

    def put_orders(self, orders: Iterable[Order]) -> None:
        orders = list(orders)
        if self.orders_unreachable:
            raise DependencyUnavailable("the table is unreachable")
        with self._lock:
            for order in orders:
                self.orders[(order.uid, order.sk)] = order
            self.writes.append(("orders", orders[0].uid, [o.execution for o in orders]))

    def update_execution(self, item: Execution, **fields: Any) -> None:
        if item.strategy_id in self.summary_fails_for:
            raise DependencyUnavailable("the table is unreachable")
        with self._lock:
            stored = self.executions[(item.uid, item.sk)]
            for name, value in fields.items():
                setattr(stored, name, value)
            self.writes.append(("summary", item.uid, item.sk))
