"""The pinned-day rig of the risk scenarios (see ``harness``)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from chalicelib.adapters.dynamo.repository import bind_clock
from chalicelib.container import Container, use_container
from sim.exchange import SimExchange
from sim.servers import adapter_hosts, start_fake_broker
from tests.integration.conftest import sign_up
from tests.integration.risk.harness import Sim, SimClock


@pytest.fixture
def sim(settings: Any, container: Container, client: Any) -> Iterator[Sim]:
    clock = SimClock()
    exchange = SimExchange(seed=11, clock=clock)
    kite = start_fake_broker("kite", exchange)
    local = Container(
        dataclasses.replace(settings, broker_hosts={"zerodha": adapter_hosts("kite", kite)}),
        clock=clock,
    )
    use_container(local)
    try:
        api, uid = sign_up(client)
        client_id = f"RK{uuid.uuid4().hex[:6].upper()}"
        callback = f"{settings.public_api_url}/brokers/zerodha/callback"
        kite.register_app(f"key-{client_id}", f"secret-{client_id}", client_id, callback)
        account = api.call(
            "POST", "/accounts",
            {"broker": "zerodha", "client_id": client_id, "label": "kite",
             "api_key": f"key-{client_id}", "api_secret": f"secret-{client_id}"},
        ).data  # fmt: skip
        login = api.call("GET", f"/accounts/{account['id']}/login")
        redirect = httpx.get(login.data["url"], follow_redirects=False, timeout=5)
        query = urlsplit(redirect.headers["location"]).query
        done = client.http.get(f"/brokers/zerodha/callback?{query}")
        assert done.status_code == 200, done.body
        yield Sim(clock, exchange, kite, local, api, uid, account)
    finally:
        use_container(container)
        bind_clock(container.clock)  # record stamps follow the session's clock again
        kite.stop()
