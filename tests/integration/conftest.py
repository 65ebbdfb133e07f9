from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.container import Container, use_container
from chalicelib.settings import Settings
from localdev.terraform import settings_env
from tests.conftest import REGION

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def settings(infra: dict[str, Any], emulator_url: str) -> Settings:
    env = settings_env(infra, "test", emulator_url, REGION)
    env["AUTO_CONFIRM_SIGNUP"] = "true"
    return Settings.from_env(env)


@pytest.fixture(scope="session")
def container(settings: Settings) -> Iterator[Container]:
    built = Container(settings)
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


def four_leg_strategy(basket_id: str, a1: str, a2: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "basket_id": basket_id,
        "name": "NIFTY short iron condor",
        "underlying": "NIFTY",
        "expiry": "current_week",
        "product": "MIS",
        "entry": {"time": "09:20:00", "days": ["MON", "TUE", "WED", "THU", "FRI"]},
        "exit": {"time": "15:15:00"},
        "allocations": [
            {"account_id": a1, "multiplier": 1},
            {"account_id": a2, "multiplier": 2},
        ],
        "legs": [
            {"side": "SELL", "option_type": "CE", "strike": {"method": "ATM_OFFSET", "value": 2},
             "lots": 1},
            {"side": "BUY", "option_type": "CE", "strike": {"method": "ATM_OFFSET", "value": 6},
             "lots": 1, "allocations": [{"account_id": a1, "multiplier": 1}]},
            {"side": "SELL", "option_type": "PE", "strike": {"method": "CLOSEST_PREMIUM",
             "value": "40"}, "lots": 1, "stop_loss": {"type": "PERCENT", "value": "30"}},
            {"side": "BUY", "option_type": "PE", "strike": {"method": "ATM_OFFSET", "value": 6},
             "lots": 1},
        ],
        "risk": {"mtm_stop_loss": "5000", "mtm_target": "8000", "on_leg_failure": "UNWIND"},
    }  # fmt: skip
    body.update(overrides)
    return body


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
