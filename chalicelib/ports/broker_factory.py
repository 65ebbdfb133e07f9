"""Building a broker port for one account: the dialect's adapter, its HTTP client and pacing.

The composition root gives services a factory (``adapters/brokers/pooled.py``): which adapter
class speaks a broker, which keep-alive client it shares and which order-rate limiter paces it
are adapter concerns, so a use case only names the broker, the account and its credentials.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

from chalicelib.ports.broker import Credentials


class BrokerFactory(Protocol):
    def __call__(
        self,
        broker: str,
        credentials: Credentials,
        *,
        account: str,
        hosts: Mapping[str, str] | None = None,
        now: Callable[[], datetime] = ...,
    ) -> Any:
        """A broker port for ``account`` (its ``with_session`` binds a session). ``ValueError``
        when this deployment cannot reach the broker (no host configured)."""
        ...
