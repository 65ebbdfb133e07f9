"""The one boto3 client factory: AWS, LocalStack or the embedded emulator, by endpoint.

Like localstack-client's Session, it points every client at one edge URL when one is configured, so
the same code runs against all three. Timeouts and attempts come from Settings (short: a stalled
dependency answers 503 within 5 s).

Clients are cached for the process, per service, region, endpoint and timeouts, not per
container: boto3 clients are thread-safe, and a session and client built per container (each API
request's, each test's) cost a few hundred milliseconds of CPU each time.
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


_LOCK = threading.Lock()
_SESSIONS: dict[str, boto3.session.Session] = {}  # region -> the process's session
_CLIENTS: dict[tuple[Any, ...], Any] = {}


class AwsClients:
    """The boto3 clients for one Settings (shared with every Settings that agrees on them)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @property
    def endpoint_url(self) -> str | None:
        return self._settings.aws_endpoint_url

    def client(self, service: str) -> Any:
        settings = self._settings
        key = (
            service, settings.region, self.endpoint_url,
            settings.aws_connect_timeout, settings.aws_read_timeout, settings.aws_max_attempts,
        )  # fmt: skip
        with _LOCK:  # a boto3 session is not thread-safe; its clients are
            if key not in _CLIENTS:
                _CLIENTS[key] = self._build(service)
            return _CLIENTS[key]

    def _build(self, service: str) -> Any:
        region = self._settings.region
        session = _SESSIONS.get(region) or _SESSIONS.setdefault(
            region, boto3.session.Session(region_name=region)
        )
        kwargs: dict[str, Any] = {"config": client_config(self._settings)}
        if self.endpoint_url:
            kwargs["endpoint_url"] = self.endpoint_url
            if session.get_credentials() is None:
                kwargs["aws_access_key_id"] = "test"
                kwargs["aws_secret_access_key"] = "test"
        return session.client(service, **kwargs)
