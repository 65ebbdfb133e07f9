"""The broker factory services use (``ports/broker_factory.py``): one keep-alive HTTP client per
broker and process, and the process's order-rate limiter, given to every adapter it builds.

Keep-alive connections matter at 09:20:00, and the broker caps order requests per account
whatever strategy sends them: so every adapter of a process shares both.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx

from chalicelib.adapters.brokers.http_client import make_client
from chalicelib.adapters.brokers.rate_limit import OrderRateLimiter


def _registry_build(broker: str, *args: Any, **kwargs: Any) -> Any:
    # Imported on first use: the registry pulls in every dialect, which a route may not need.
    from chalicelib.adapters.brokers.registry import build_broker

    return build_broker(broker, *args, **kwargs)


class PooledBrokers:
    """``build`` (``registry.build_broker`` by default) with the shared client and limiter."""

    def __init__(
        self,
        limiter: OrderRateLimiter | None,
        build: Callable[..., Any] | None = None,
        client: Callable[[], httpx.Client] = make_client,
    ) -> None:
        self._limiter = limiter
        self._build = build or _registry_build
        self._new_client = client
        self._clients: dict[str, httpx.Client] = {}
        self._lock = threading.Lock()

    def __call__(self, broker: str, credentials: Any, **kwargs: Any) -> Any:
        return self._build(
            broker, credentials, client=self.client(broker), limiter=self._limiter, **kwargs
        )

    def client(self, broker: str) -> httpx.Client:
        """One keep-alive client per broker and process, created on first use."""
        with self._lock:
            if broker not in self._clients:
                self._clients[broker] = self._new_client()
            return self._clients[broker]
