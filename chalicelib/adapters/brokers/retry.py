"""The retry policy for idempotent broker calls (GETs, status, margin), built per adapter.

A tenacity ``Retrying`` is injected through ``AdapterConfig`` so tests pass a no-op sleep. It
retries only failures marked ``retryable`` (transport errors, 429, 502-504); an order placement
is never retried by it (``HttpBroker.place`` looks the tag up instead).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from chalicelib.ports.broker_errors import BrokerError


def is_retryable(exc: BaseException) -> bool:
    """Retry predicate: only broker errors that say so (transport, 429, 502-504)."""
    return isinstance(exc, BrokerError) and exc.retryable


def make_retrying(
    *,
    sleep: Callable[[float], None] = time.sleep,
    attempts: int = 3,
    max_delay: float = 3.0,
) -> Retrying:
    """The retry policy for idempotent calls; inject ``sleep`` (tests pass a no-op)."""
    return Retrying(
        sleep=sleep,
        stop=stop_after_attempt(attempts) | stop_after_delay(max_delay),
        wait=wait_exponential_jitter(multiplier=0.2, max=1.0, jitter=0.2),
        retry=retry_if_exception(is_retryable),
        reraise=True,
    )
