"""What an adapter is built from: credentials, the shared client, the retry policy, pacing.

Wired by ``registry.build_broker`` / the container; tests build it with a scripted transport, a
no-op sleep and a fixed clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import httpx
from tenacity import Retrying

from chalicelib.adapters.brokers.rate_limit import OrderRateLimiter
from chalicelib.domain.calendar import IST
from chalicelib.ports.broker import Credentials, Session


def ist_now() -> datetime:
    return datetime.now(IST)


@dataclass(frozen=True)
class AdapterConfig:
    """Everything an adapter is built from.

    ``account`` keys the order-rate limiter; ``hosts`` overrides the dialect's default base URLs
    (the fake brokers run on loopback); ``place_attempts`` bounds placement attempts, each after
    the tag lookups (``lookup_delays``) proved the previous one absent.
    """

    credentials: Credentials
    client: httpx.Client
    retrying: Retrying
    account: str = ""
    session: Session | None = None
    hosts: Mapping[str, str] = field(default_factory=dict)
    limiter: OrderRateLimiter | None = None
    now: Callable[[], datetime] = ist_now
    sleep: Callable[[float], None] = time.sleep
    place_attempts: int = 2
    #: Seconds to wait before each tag lookup after an ambiguous placement (~3 s in all): the
    #: order book lags the acknowledgement, so a single empty lookup proves nothing.
    lookup_delays: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5)
