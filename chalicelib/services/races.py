"""Re-running a read-decide-write use case after it lost a conditional race.

Baskets and strategies are serialised by transaction conditions (see adapters/dynamo/repository):
the loser of a race gets ConcurrentChange. For a request that did not pin a version, losing to a
concurrent writer is not the caller's mistake, so the use case re-reads and decides again a few
times before answering 409. A stale version the caller sent is a plain Conflict and never retried.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from chalicelib.errors import ConcurrentChange

T = TypeVar("T")
ATTEMPTS = 12


def retry_races(
    operation: Callable[[], T],
    *,
    attempts: int = ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``operation`` (which must re-read what it decides on) until it wins or runs out."""
    for attempt in range(1, attempts + 1):
        try:
            return operation()
        except ConcurrentChange:
            if attempt == attempts:
                raise
            sleep(random.uniform(0.005, 0.02) * attempt)  # de-synchronise the contenders
    raise AssertionError("unreachable")  # pragma: no cover
