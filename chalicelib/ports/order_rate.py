"""The per-account order-rate limiter as the firing path sees it.

Every place / modify / cancel of an account goes through one limiter (at most N order requests in
any one second, docs/rate-limiting.md). The adapters implement it in one process
(``adapters/brokers/rate_limit.SlidingWindowLimiter``) or across processes in the table
(``adapters/brokers/dynamo_rate_limit.DynamoRateLimiter``); the firer reads it through
``services/stamping_limiter.StampingLimiter``.

Two abilities are optional and looked up on the object (``getattr``), because only some limiters
have them: ``reserve(account, count, lead_seconds)`` books a budget ahead of T in a shared store,
and ``book(account) -> float`` takes the next slot from memory without waiting.
"""

from __future__ import annotations

from typing import Protocol


class OrderRateLimiter(Protocol):
    """Blocks the caller until one more order request on ``account`` is within the limit."""

    def acquire(self, account: str) -> float:
        """Wait for a slot; returns the slot's time on the limiter's clock."""
        ...
