"""The execution store's plumbing: one conditional write, retried on transient errors, and a
named order transition built on it.

DynamoDB retries a timed-out write itself, and a retried conditional write whose first attempt
succeeded fails its own condition. So no conditional failure is read as "someone else" blindly:
``_transition`` re-reads the item and accepts it when it already is where the write was taking
it. Shared by the store's parts (``execution_gate``, ``order_queries``, ``order_transitions``,
``position_fills``, ``claim_transitions``), which ``ExecutionRepository`` composes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from pynamodb.exceptions import (
    GetError,
    PutError,
    PynamoDBConnectionError,
    PynamoDBException,
    QueryError,
    TransactWriteError,
    UpdateError,
)
from pynamodb.expressions.condition import Condition

from chalicelib.adapters.dynamo.models import OrderItem
from chalicelib.adapters.dynamo.repository import Repository, _lost_race, guarded
from chalicelib.errors import DependencyUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")
#: Attempts of one conditional write after a transient error (timeouts, throttling, 5xx).
WRITE_ATTEMPTS = 3
#: Attempts of a transition that appends to the history while others append to it too.
APPEND_ATTEMPTS = 3


class ConditionalWrites:
    """The base of the store's parts: the repository (its transaction connection) and the
    injected sleep between retries."""

    _repo: Repository
    _sleep: Callable[[float], None]

    def _transition(
        self,
        order: OrderItem,
        actions: list[Any],
        condition: Condition,
        reached: Callable[[OrderItem], bool],
        *,
        refresh_on_failure: bool = True,
    ) -> bool:
        """One conditional update; on a failed condition, True when the stored order is already
        where this write was taking it (our own retried write), else False with ``order``
        refreshed from the table."""
        try:
            self._write(lambda: order.update(actions=actions, condition=condition))
        except ConditionFailed:
            if refresh_on_failure:
                guarded(lambda: order.refresh(consistent_read=True))
            if reached(order):
                return True
            log.info(
                "order transition refused: the order moved meanwhile",
                extra={"order": order.order_id, "status": order.status},
            )
            return False
        return True

    def _append(
        self,
        order: OrderItem,
        entry: dict[str, Any],
        actions: Callable[[OrderItem], list[Any]],
        condition: Condition,
        reached: Callable[[OrderItem], bool],
    ) -> bool:
        """A transition that also appends ``entry`` to the order's ``history``.

        The history is one stored JSON value, written whole: written from a stale copy it drops
        what another actor appended meanwhile (the recovery sweep's "never sent" under a firer's
        late acknowledgement). So the write is also conditioned on the stored history being the
        copy's, and when only the history moved it is made again from the fresh copy (its
        actions too: ``actions`` reads the order it is given). The last attempt drops that
        condition: a lost history line is better than a transition not recorded."""
        for attempt in range(APPEND_ATTEMPTS):
            seen = list(order.history or [])
            last = attempt == APPEND_ATTEMPTS - 1
            stored_is_seen = (
                OrderItem.history == seen
                if seen
                else OrderItem.history.does_not_exist() | (OrderItem.history == [])
            )
            done = self._transition(
                order,
                [*actions(order), OrderItem.history.set([*seen, entry])],
                condition if last else condition & stored_is_seen,
                reached,
            )
            if done or last or list(order.history or []) == seen:
                return done
        return False

    def _write(self, call: Callable[[], T]) -> T:
        """A write, retried on transient errors; a failed condition raises ``ConditionFailed``."""
        for attempt in range(WRITE_ATTEMPTS):
            try:
                return call()
            except (PutError, UpdateError, TransactWriteError) as error:
                if _lost_race(error):
                    raise ConditionFailed from error
                failure: PynamoDBException = error
            except (GetError, QueryError, PynamoDBConnectionError) as error:
                failure = error
            log.warning(
                "dynamodb write failed; retrying",
                extra={"attempt": attempt + 1, "error": str(failure)},
            )
            if attempt + 1 < WRITE_ATTEMPTS:
                self._sleep(0.05 * (attempt + 1))
        raise DependencyUnavailable("storage is unavailable; retry shortly") from failure


class ConditionFailed(Exception):
    """A conditional write found the item elsewhere than its condition allows."""


def and_condition(condition: Condition, more: Condition | None) -> Condition:
    return condition if more is None else condition & more


def history_entry(at: str, status: str, message: str, **extra: Any) -> dict[str, Any]:
    """One entry of an order's ``history`` for a transition the platform made (no fill)."""
    return {
        "at": at,
        "status": status,
        "filled_quantity": 0,
        "average_price": None,
        "message": message,
        **extra,
    }
