"""The one boto3 client factory: AWS, LocalStack or the embedded emulator, by endpoint.

Like localstack-client's Session, it points every client at one edge URL when one is configured, so
the same code runs against all three. Clients are cached per service (boto3 clients are thread-safe).
Timeouts and attempts come from Settings (short: a stalled dependency answers 503 within 5 s).
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

from chalicelib.settings import Settings


def client_config(settings: Settings) -> Config:
    """botocore's defaults (60 s timeouts, several attempts) would hang a request for minutes."""
    return Config(
        connect_timeout=settings.aws_connect_timeout,
        read_timeout=settings.aws_read_timeout,
        retries={"total_max_attempts": settings.aws_max_attempts, "mode": "standard"},
        max_pool_connections=50,
    )


class AwsClients:
    """Builds and caches boto3 clients for one Settings."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._session = boto3.session.Session(region_name=settings.region)
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def endpoint_url(self) -> str | None:
        return self._settings.aws_endpoint_url

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                kwargs: dict[str, Any] = {"config": client_config(self._settings)}
                if self.endpoint_url:
                    kwargs["endpoint_url"] = self.endpoint_url
                    if self._session.get_credentials() is None:
                        kwargs["aws_access_key_id"] = "test"
                        kwargs["aws_secret_access_key"] = "test"
                self._clients[service] = self._session.client(service, **kwargs)
            return self._clients[service]
