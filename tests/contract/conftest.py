"""Contract tests: the official SDKs, unmodified but for their base URL, against the fakes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

from chalicelib.domain.calendar import IST
from sim.clock import ManualClock
from sim.exchange import SimExchange
from sim.servers import start_fake_broker


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker here too, so this folder runs before pyproject.toml lists it."""
    config.addinivalue_line("markers", "contract: official broker SDKs against the fake brokers")


@pytest.fixture
def exchange() -> SimExchange:
    return SimExchange(seed=7, clock=ManualClock(datetime(2026, 3, 10, 10, 0, tzinfo=IST)))


@pytest.fixture
def start_server(exchange: SimExchange) -> Iterator:
    started = []

    def start(dialect: str):
        server = start_fake_broker(dialect, exchange)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
