from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from chalice.test import Client

from chalicelib.container import Container, use_container
from chalicelib.domain.brokers import BY_NAME
from chalicelib.settings import Settings
from localdev.terraform import settings_env
from sim.exchange import SimExchange
from sim.servers import adapter_hosts, start_fake_broker
from tests.conftest import REGION

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def settings(infra: dict[str, Any], emulator_url: str) -> Settings:
    env = settings_env(infra, "test", emulator_url, REGION)
    env["AUTO_CONFIRM_SIGNUP"] = "true"
    # The emulator is not DynamoDB: moto deep-copies the whole (session-long) table on every
    # transaction and serves one DynamoDB request at a time, so on a loaded machine a request can
    # wait longer than production's 1.5 s read timeout. test_outages.py checks those defaults.
    env.setdefault("AWS_READ_TIMEOUT", "30")
    return Settings.from_env(env)


@pytest.fixture(scope="session")
def container(settings: Settings, platform_clock) -> Iterator[Container]:
    built = Container(settings, clock=platform_clock)
    use_container(built)
    yield built
    use_container(None)


@pytest.fixture(scope="session")
def client(container: Container) -> Iterator[Client]:
    from app import app

    with Client(app, stage_name="test") as test_client:
        yield test_client


class Api:
    """A tiny HTTP helper over Chalice's test client that speaks JSON and carries a token."""

    def __init__(self, client: Client, token: str | None = None) -> None:
        self.client = client
        self.token = token

    def call(self, method: str, path: str, body: Any = None, raw: str | None = None) -> Any:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        payload = raw if raw is not None else (json.dumps(body) if body is not None else None)
        response = getattr(self.client.http, method.lower())(path, headers=headers, body=payload)
        response.data = json.loads(response.body) if response.body else None
        return response


def sign_up(client: Client, name: str = "Asha Rao") -> tuple[Api, str]:
    email = f"{uuid.uuid4().hex[:10]}@example.in"
    password = "Str0ng-Passw0rd"
    anonymous = Api(client)
    created = anonymous.call(
        "POST",
        "/auth/signup",
        {"email": email, "password": password, "name": name, "phone": "+919876543210",
         "state": "Karnataka"},
    )  # fmt: skip
    assert created.status_code == 201, created.body
    login = anonymous.call("POST", "/auth/login", {"email": email, "password": password})
    assert login.status_code == 200, login.body
    return Api(client, login.data["id_token"]), created.data["id"]


@pytest.fixture
def user(client: Client) -> Api:
    return sign_up(client)[0]


@pytest.fixture
def other_user(client: Client) -> Api:
    return sign_up(client, "Ravi Iyer")[0]


@pytest.fixture
def setup(user: Api) -> dict[str, Any]:
    """A user with a basket and two paper accounts."""
    basket = user.call("POST", "/baskets", {"name": "Weekly", "enabled": True}).data
    accounts = [
        user.call(
            "POST", "/accounts",
            {"broker": "paper", "client_id": f"PAPER{i}", "label": f"Paper {i}",
             "api_key": "k", "api_secret": "s"},
        ).data
        for i in (1, 2)
    ]  # fmt: skip
    return {"api": user, "basket": basket["id"], "a1": accounts[0]["id"], "a2": accounts[1]["id"]}


# ----- fake brokers on loopback, and the daily login through the API ------------------------
# The brokers these tests log in through, each on the fake of its dialect (from the catalogue).
DIALECTS = {name: BY_NAME[name].dialect for name in ("zerodha", "upstox", "shoonya", "zebu")}


@pytest.fixture
def fakes(settings, container, platform_clock) -> Iterator[dict]:
    exchange = SimExchange(seed=11, clock=platform_clock)
    servers, hosts = {}, {}
    for broker, dialect in DIALECTS.items():
        try:
            server = servers.get(dialect) or start_fake_broker(dialect, exchange)
        except NotImplementedError:
            continue
        servers[dialect] = server
        hosts[broker] = adapter_hosts(dialect, server)
    local = Container(dataclasses.replace(settings, broker_hosts=hosts), clock=platform_clock)
    use_container(local)
    try:
        yield {"servers": servers, "settings": local.settings, "container": local}
    finally:
        use_container(container)
        for server in servers.values():
            server.stop()


def broker_login(api, fakes, broker: str, client_id: str) -> tuple[dict, str]:
    dialect = DIALECTS[broker]
    if dialect not in fakes["servers"]:
        pytest.skip(f"the {dialect} fake broker is not built yet")
    server = fakes["servers"][dialect]
    callback = f"{fakes['settings'].public_api_url}/brokers/{broker}/callback"
    server.register_app(f"key-{client_id}", f"secret-{client_id}", client_id, callback)
    account = api.call(
        "POST", "/accounts",
        {"broker": broker, "client_id": client_id, "label": broker,
         "api_key": f"key-{client_id}", "api_secret": f"secret-{client_id}"},
    ).data  # fmt: skip
    login = api.call("GET", f"/accounts/{account['id']}/login")
    assert login.status_code == 200, login.body
    assert login.data["url"].startswith(server.login_url_base)
    redirect = httpx.get(login.data["url"], follow_redirects=False, timeout=5)
    assert redirect.status_code in (302, 303, 307), redirect.text
    location = urlsplit(redirect.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == callback
    return account, location.query
