"""The kill switch: global, per account or per strategy.

Engaging it (1) records who engaged it and when, first, so the planner refuses new entries even if
what follows fails; (2) asks the brokers to cancel today's open orders in scope and settles them,
so partial fills reach the positions; (3) squares off the open positions in scope with protected
LIMIT orders (BUYs closing shorts first), recorded under a KILL execution per strategy so they
show in ``GET /executions``. Exits stay allowed while it is engaged: ``blocks`` is for entries.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.adapters.dynamo.kill_switch_items import ALL, KillSwitchItem, KillSwitchRepository
from chalicelib.adapters.dynamo.models import OrderItem
from chalicelib.adapters.dynamo.repository import Repository
from chalicelib.domain.calendar import IST
from chalicelib.domain.strategy import ExitReason
from chalicelib.errors import NotFound, ValidationFailed
from chalicelib.services.clock import Clock
from chalicelib.services.closing import Holding, closing_orders, holding_of_position
from chalicelib.services.risk_engine import RiskEngine
from chalicelib.services.settlement import TERMINAL, Settlement

log = logging.getLogger(__name__)
SCOPES = ("all", "account", "strategy")


def blocking_reason(
    items: list[KillSwitchItem], strategy_id: str, account_id: str | None
) -> str | None:
    """Why an entry of ``strategy_id`` on ``account_id`` is refused, or None (pure)."""
    wanted = {("all", ALL), ("strategy", strategy_id), ("account", account_id or "")}
    for item in items:
        if (item.scope, item.target) in wanted:
            where = "all trading" if item.scope == "all" else f"{item.scope} {item.target}"
            why = f": {item.reason}" if item.reason else ""
            return f"kill switch on {where}, engaged by {item.engaged_by} at {item.engaged_at}{why}"
    return None


@dataclass
class KillSwitch:
    store: KillSwitchRepository
    repo: Repository
    settlement: Settlement
    clock: Clock
    risk: RiskEngine | None = None

    # -- queries -------------------------------------------------------------------------------
    def active(self, uid: str) -> list[KillSwitchItem]:
        return self.store.active(uid)

    def blocks(self, uid: str, strategy_id: str, account_id: str | None = None) -> str | None:
        """The reason new entries of this strategy (on this account) are refused, or None."""
        return blocking_reason(self.store.active(uid), strategy_id, account_id)

    # -- commands ------------------------------------------------------------------------------
    def engage(
        self, uid: str, scope: str, target: str | None, *, who: str, reason: str = ""
    ) -> KillSwitchItem:
        target = self._target(uid, scope, target)
        now = self.clock().astimezone(IST)
        item = KillSwitchItem(
            *KillSwitchItem.key(uid, scope, target),
            uid=uid,
            scope=scope,
            target=target,
            reason=reason,
            engaged_by=who,
            engaged_at=now.isoformat(timespec="milliseconds"),
        )
        self.store.put(item)  # refuse entries before anything else can fail
        log.warning("kill switch engaged", extra={"user": uid, "scope": scope, "target": target})
        self.freeze_risk(uid, scope, target, now)
        cancelled = self.cancel_open_orders(uid, scope, target, now)
        squared, errors = self.square_off(uid, scope, target, now)
        item.summary = {
            "cancelled": [o.order_id for o in cancelled],
            "square_off": [
                {"order_id": o.order_id, "account_id": o.account_id, "side": o.request["side"],
                 "quantity": int(o.request["quantity"]), "status": o.status,
                 "filled_quantity": int(o.filled_quantity)}
                for o in squared
            ],
            "errors": errors,
        }  # fmt: skip
        self.store.save(item)
        return item

    def release(self, uid: str, scope: str, target: str | None) -> None:
        if scope not in SCOPES:
            raise ValidationFailed(f"scope must be one of {', '.join(SCOPES)}", field="scope")
        if not self.store.delete(uid, scope, ALL if scope == "all" else target):
            raise NotFound("no such kill switch is engaged")
        log.warning("kill switch released", extra={"user": uid, "scope": scope, "target": target})

    # -- steps ---------------------------------------------------------------------------------
    def freeze_risk(self, uid: str, scope: str, target: str, now: datetime) -> None:
        """Stop the price monitor acting in scope (no stop re-placed, no re-entry) and cancel its
        orders, before the square-off: a stop never fires on a position the switch closed."""
        if self.risk is None:
            return
        day = now.date().isoformat()
        for book in self.risk.books.of_user(uid, day):
            if scope == "strategy" and book.strategy_id != target:
                continue
            account = target if scope == "account" else None
            self.risk.freeze(uid, day, book.strategy_id, ExitReason.KILL_SWITCH, account)

    def cancel_open_orders(
        self, uid: str, scope: str, target: str, now: datetime
    ) -> list[OrderItem]:
        """Cancel today's non-terminal orders in scope and settle them (partial fills count)."""
        executions = self.settlement.executions
        open_ = [
            o
            for o in executions.orders_on(uid, now.date().isoformat())
            if o.status not in TERMINAL and _in_scope(scope, target, o.strategy_id, o.account_id)
        ]
        asked = self.settlement.cancel_open(uid, open_)
        self.settlement.reconcile(uid, open_)
        return asked

    def square_off(
        self, uid: str, scope: str, target: str, now: datetime
    ) -> tuple[list[OrderItem], list[dict[str, Any]]]:
        """Close every open position in scope, one KILL execution per strategy."""
        closer = self.settlement.closer
        by_strategy: dict[str, list[Holding]] = {}
        for position in closer.executions.positions(uid, target if scope == "strategy" else None):
            if position.net_quantity and _in_scope(
                scope, target, position.strategy_id, position.account_id
            ):
                by_strategy.setdefault(position.strategy_id, []).append(
                    holding_of_position(position)
                )
        sent: list[OrderItem] = []
        errors: list[dict[str, Any]] = []
        for strategy_id, holdings in by_strategy.items():
            prices, missing = closer.prices(uid, holdings)
            children, refused = closing_orders(
                strategy_id, holdings, prices, closer.market, phase="KILL", on=now.date()
            )
            errors += missing + refused
            phase = "KILL" + now.strftime("%H%M%S%f")[:9]
            execution = closer.executions.open_execution(
                uid, now.date().isoformat(), strategy_id, phase, now.isoformat(), "kill-switch"
            )
            if execution is None:  # the same instant twice: nothing to add
                continue
            orders = closer.send_closing(uid, execution.sk, strategy_id, children, phase=phase)
            self.settlement.settle(uid, execution.sk, orders=orders)
            sent += orders
        return sent, errors

    def _target(self, uid: str, scope: str, target: str | None) -> str:
        """The stored target; the caller's own account or strategy (404 otherwise)."""
        if scope not in SCOPES:
            raise ValidationFailed(f"scope must be one of {', '.join(SCOPES)}", field="scope")
        if scope == "all":
            return ALL
        if not target:
            raise ValidationFailed(f"a {scope} kill switch needs the {scope}'s id", field="id")
        if scope == "account":
            self.repo.get_account(uid, target)
        else:
            self.repo.get_strategy(uid, target)
        return target


def _in_scope(scope: str, target: str, strategy_id: str, account_id: str) -> bool:
    return (
        scope == "all"
        or (scope == "strategy" and strategy_id == target)
        or (scope == "account" and account_id == target)
    )
