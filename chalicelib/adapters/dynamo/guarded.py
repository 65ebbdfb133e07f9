"""The table's error edge and record stamps, shared by every store of ``adapters/dynamo/``.

``guarded`` turns PynamoDB's exceptions into the domain's: a lost conditional race is
``ConcurrentChange`` (reload and retry), an outage ``DependencyUnavailable``. ``now_iso`` stamps
``created_at`` / ``updated_at`` from the clock the container binds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from pynamodb.exceptions import (
    DeleteError,
    GetError,
    PutError,
    PynamoDBConnectionError,
    QueryError,
    TransactWriteError,
    UpdateError,
)

from chalicelib.domain.calendar import IST
from chalicelib.errors import ConcurrentChange, DependencyUnavailable

log = logging.getLogger(__name__)
R = TypeVar("R")


def _system_now() -> datetime:
    return datetime.now(IST)


_stamp_clock: list[Callable[[], datetime]] = [_system_now]


def bind_clock(clock: Callable[[], datetime]) -> None:
    """Stamp ``created_at`` / ``updated_at`` from the platform's clock (called by the container).

    Like ``bind_table``, one binding per process: the stamps are what "today's" positions and
    orders are read by, so they must agree with the clock the rest of the platform runs on.
    """
    _stamp_clock[0] = clock


def now_iso() -> str:
    return _stamp_clock[0]().astimezone(IST).isoformat(timespec="milliseconds")


# A transaction cancelled because another one held an item is a lost race too: retrying it
# after a re-read is correct, and it says nothing about the datastore's health.
_RACE_REASONS = frozenset({"ConditionalCheckFailed", "TransactionConflict"})


def _lost_race(error: Exception) -> bool:
    cause = getattr(error, "cause_response_code", None)
    if cause in ("ConditionalCheckFailedException", "TransactionCanceledException"):
        reasons = getattr(error, "cancellation_reasons", None) or []
        return cause == "ConditionalCheckFailedException" or any(
            r is not None and r.code in _RACE_REASONS for r in reasons
        )
    return cause == "TransactionConflictException"


def guarded(call: Callable[[], R]) -> R:
    """Run a DynamoDB call; a lost conditional race is a Conflict, an outage is retryable."""
    try:
        return call()
    except (PutError, UpdateError, DeleteError, TransactWriteError) as error:
        if _lost_race(error):
            raise ConcurrentChange(
                "the item changed meanwhile (stale version or concurrent request); reload and retry",
                code="version_conflict",
            ) from error
        log.exception("dynamodb write failed")
        raise DependencyUnavailable("storage is unavailable; retry shortly") from error
    except (GetError, QueryError, PynamoDBConnectionError) as error:
        log.exception("dynamodb read failed")
        raise DependencyUnavailable("storage is unavailable; retry shortly") from error
