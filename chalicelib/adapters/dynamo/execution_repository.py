"""The execution store: executions (the exactly-once gate), child orders and positions.

Nothing outside this module writes order or position state. Every order transition of the
lifecycle (``domain/order_lifecycle.py``, drawn in docs/order-lifecycle.md) is one named method
with a condition on the state it starts from: ``claim_order``, ``record_sent``, ``record_ack``,
``record_unknown``, ``record_failed``, ``record_missed``, ``reopen_to_resend`` (a closing order the
broker never received, once), ``record_status`` (a broker status, which closes the order when
terminal) and ``apply_fill`` (once per fill); a claimed order's owner-only transitions
(``renew_claim``, ``hold_back``, ``cancel_unsent``) and ``withdraw_unsent`` are in
``claim_transitions``. A live claim is never failed or reopened by anyone but its claimer
(``claimed_before``). A method returns False when the condition
failed (someone else moved the order); the in-memory item is then refreshed from the table, so the
caller always continues from the truth.

DynamoDB retries a timed-out write itself, and a retried conditional write whose first attempt
succeeded fails its own condition. So no conditional failure is read as "someone else" blindly:
the gate and the claim carry a token of their attempt, and every transition re-reads the item
and accepts it when it already is where the write was taking it.

The gate is a conditional put: the first caller for (user, strategy, trading date, phase) creates
the execution item and owns the slot; every other caller (a duplicate trigger, a retry, a second
clock) gets None and sends nothing. Fills reach a position exactly once: the order's ``applied``
flag and the position's version are written in one transaction; a version conflict on the
position (another order of the same contract settling at the same moment) is retried with the
position re-read, never taken for "already applied".

The class composes one module per part: ``execution_gate`` (the gate, the execution item),
``order_queries`` (storing and reading orders), ``order_transitions`` (the lifecycle),
``position_fills`` (positions and fills), ``claim_transitions`` (a claim's owner-only moves and
the risk monitor's intents), all over ``conditional_writes`` (the retried conditional write).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from chalicelib.adapters.dynamo.claim_transitions import ClaimTransitions
from chalicelib.adapters.dynamo.conditional_writes import WRITE_ATTEMPTS
from chalicelib.adapters.dynamo.execution_gate import ExecutionGate
from chalicelib.adapters.dynamo.order_items import DynamoNewOrders
from chalicelib.adapters.dynamo.order_queries import OrderQueries
from chalicelib.adapters.dynamo.order_transitions import OrderTransitions
from chalicelib.adapters.dynamo.position_fills import FILL_ATTEMPTS, PositionFills
from chalicelib.adapters.dynamo.repository import Repository
from chalicelib.domain.fills import applied_so_far

__all__ = ["FILL_ATTEMPTS", "WRITE_ATTEMPTS", "ExecutionRepository", "applied_so_far"]


class ExecutionRepository(
    ExecutionGate,
    OrderQueries,
    OrderTransitions,
    PositionFills,
    ClaimTransitions,
    DynamoNewOrders,
):
    """The execution store: its parts, each one module, over one repository and one sleep."""

    def __init__(self, repo: Repository, sleep: Callable[[float], None] = time.sleep) -> None:
        self._repo = repo
        self._sleep = sleep
