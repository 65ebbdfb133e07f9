"""Fixtures: a manual clock on a trading morning, an exchange, and servers that are always stopped."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest

from chalicelib.domain.calendar import IST
from sim.clock import ManualClock
from sim.exchange import SimExchange
from sim.servers import start_fake_broker

MORNING = datetime(2026, 3, 10, 10, 0, tzinfo=IST)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MORNING)


@pytest.fixture
def exchange(clock: ManualClock) -> SimExchange:
    ex = SimExchange(seed=7, clock=clock)
    ex.open_account("AB1234")
    return ex


@pytest.fixture
def start_server(exchange: SimExchange) -> Iterator:
    started = []

    def start(dialect: str, ex: SimExchange | None = None):
        server = start_fake_broker(dialect, ex or exchange)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:
        yield client
