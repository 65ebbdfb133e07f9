"""What the kill switch needs from storage: its operations, and the orders, positions and KILL
executions of the scope it squares off.

``KillSwitchStore`` is implemented by ``adapters/dynamo/kill_switch_items.KillSwitchRepository``
(and its notifying wrapper); ``KillSwitchExecutions`` by the execution store, whose method names
and signatures it keeps. Every write is conditional and answers whether it happened:

* ``open`` creates the scope's operation only if none exists (two concurrent engages: one
  creates, the other joins);
* ``claim_pass`` takes the right to run the next pass only while the operation is ENGAGING and
  no other pass holds it (two drivers never run one operation's pass at once);
* ``record_pass`` and ``delete`` only while the switch exists (a release wins over a late pass);
* the order transitions (``withdraw_unsent``, ``record_ack``) only from the states they start from;
  the record passed in is refreshed with what is stored either way.

Storage failures raise ``DependencyUnavailable``; a missing execution raises ``NotFound``.
"""

from __future__ import annotations

from typing import Protocol

from chalicelib.domain.kill_switch import PassState
from chalicelib.domain.records import (
    AccountRecord,
    ExecutionRecord,
    KillSwitchRecord,
    OrderRecord,
    PositionRecord,
    StrategyRecord,
)


class KillSwitchStore(Protocol):
    def open(
        self,
        uid: str,
        scope: str,
        target: str,
        *,
        reason: str,
        engaged_by: str,
        engaged_at: str,
        operation_id: str,
    ) -> KillSwitchRecord | None:
        """Engage: the new ENGAGING operation (its first pass due at ``engaged_at``), or None
        when the scope already has one."""
        ...

    def get(self, uid: str, scope: str, target: str | None) -> KillSwitchRecord | None: ...

    def active(self, uid: str) -> list[KillSwitchRecord]:
        """Every switch of the user, ENGAGING or FLAT (strongly consistent)."""
        ...

    def due(self, now_iso_: str) -> list[KillSwitchRecord]:
        """Every ENGAGING operation whose next pass is due at ``now_iso_`` (all users)."""
        ...

    def engaging(self) -> bool:
        """Whether any operation anywhere is still ENGAGING."""
        ...

    def claim_pass(self, item: KillSwitchRecord, now: float, hold: float) -> bool:
        """Run the next pass: False when the operation is not ENGAGING or another pass holds it
        (until its ``now + hold``, epoch seconds)."""
        ...

    def record_pass(self, item: KillSwitchRecord, state: PassState) -> bool:
        """Write what a pass did (and release its claim); ``item`` shows it afterwards. False
        when the switch was released meanwhile."""
        ...

    def delete(self, uid: str, scope: str, target: str | None) -> bool:
        """Release; False when no such switch was engaged."""
        ...


class KillSwitchExecutions(Protocol):
    def orders_on(
        self, uid: str, trade_date: str, *, consistent: bool = False
    ) -> list[OrderRecord]: ...

    def positions(
        self, uid: str, strategy_id: str | None = None, *, consistent: bool = False
    ) -> list[PositionRecord]: ...

    def withdraw_unsent(self, order: OrderRecord, code: str, message: str, *, at: str) -> bool:
        """BUILT -> CANCELLED; False when a firer claimed it first."""
        ...

    def record_ack(
        self,
        order: OrderRecord,
        broker_order_id: str,
        *,
        sent_at: str | None,
        acked_at: str,
        recovered: bool = False,
        message: str = "acknowledged",
    ) -> bool:
        """-> OPEN with the broker's id (also from FAILED: the broker's word wins)."""
        ...

    def open_execution(
        self,
        uid: str,
        trade_date: str,
        strategy_id: str,
        phase: str,
        slot: str,
        owner: str,
        token: str | None = None,
    ) -> ExecutionRecord | None:
        """The gate: the execution created by this call, or the stored one when it was created
        under the same ``token``; None when another attempt owns it."""
        ...


class KillSwitchTargets(Protocol):
    """The caller's own account or strategy (``NotFound`` otherwise): a switch names only those."""

    def get_account(self, uid: str, account_id: str) -> AccountRecord: ...

    def get_strategy(self, uid: str, strategy_id: str) -> StrategyRecord: ...
