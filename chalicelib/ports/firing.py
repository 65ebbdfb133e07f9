"""The stores the firing path records through: each order transition one conditional write.

The firer (at T) and ``order_sender.send`` (exits, unwinds, square-offs) move orders along the
lifecycle of ``domain/order_lifecycle.py`` and never write an order themselves: every step is one
named operation of the execution store, conditioned on the state it starts from. The names and
signatures are the execution store's (``adapters/dynamo/execution_repository.py``), which satisfies
these protocols structurally; ``tests/fakes/firing.py`` is the in-memory twin.

Semantics every implementation keeps (the engine's exactly-once rests on them):

* a transition returns False when the stored order was not where the transition starts from
  (someone else moved it) and True when it was, or when it already is where this write was taking
  it (its own retried write); in both cases the caller's record then shows the stored state;
* ``claim_order`` succeeds once per order and token: a second firer's claim of the same order fails;
* a storage outage raises (``chalicelib.errors.DependencyUnavailable``), never a silent False.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from chalicelib.domain.records import ExecutionRecord, OrderRecord


class OrderOutcomes(Protocol):
    """What a sender records about one order it sends (``order_sender.send``)."""

    def record_sent(self, order: OrderRecord, sent_at: str) -> None:
        """Store a NEW order as SENT before its request leaves (write-ahead); raises when its
        id is already used by another order."""
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
    ) -> bool: ...

    def record_unknown(
        self, order: OrderRecord, error: dict[str, Any], *, at: str, sent_at: str | None = None
    ) -> bool: ...

    def record_failed(
        self,
        order: OrderRecord,
        status: str,
        error: dict[str, Any],
        *,
        at: str,
        sent_at: str | None = None,
        claimed_before: str | None = None,
    ) -> bool: ...


class FireStore(OrderOutcomes, Protocol):
    """What the firer needs besides: the claim before T, the missed entry, the alert event."""

    def claim_order(self, order: OrderRecord, token: str, at: str) -> bool:
        """BUILT -> claimed by ``token`` (or already claimed by it); False: another owns it."""
        ...

    def record_missed(self, order: OrderRecord, reason: str, *, at: str) -> bool:
        """An entry too late to send: terminal, only from built or claimed and never sent."""
        ...

    def get_execution(self, uid: str, sk: str) -> ExecutionRecord: ...

    def add_event(self, item: ExecutionRecord, event: dict[str, Any]) -> None: ...


class ChildSpec(Protocol):
    """What a planned child order gives its record (``services.order_builder.ChildOrder``)."""

    account_id: str
    broker: str
    tag: str

    def to_dict(self) -> dict[str, Any]: ...


class NewOrders(Protocol):
    """Makes the record of a BUILT order (not stored yet: ``put_orders`` / ``record_sent`` do)."""

    def new_order(
        self,
        uid: str,
        execution_sk: str,
        strategy_id: str,
        phase: str,
        child: ChildSpec,
        scheduled_at: datetime,
        order_id: str | None = None,
    ) -> OrderRecord: ...
