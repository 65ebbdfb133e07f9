"""A browser finishing a broker login is sent back to the web app with the result (when the app's
URL is configured); a script still gets JSON."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib.container import Container, use_container
from chalicelib.domain.calendar import IST
from tests.integration.conftest import broker_login, sign_up

pytestmark = pytest.mark.ambient_time
WEB = "http://127.0.0.1:5173"
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.fixture
def with_web_app(fakes, platform_clock):
    settings = dataclasses.replace(fakes["settings"], web_app_url=WEB)
    use_container(Container(settings, clock=platform_clock))
    yield
    use_container(fakes["container"])


def test_browser_callback_lands_back_in_the_app(client, fakes, platform_clock, with_web_app):
    platform_clock.set(datetime(2026, 11, 23, 9, 0, tzinfo=IST))
    api, _ = sign_up(client)
    account, query = broker_login(api, fakes, "zerodha", "ZWEB1")
    done = client.http.get(f"/brokers/zerodha/callback?{query}", headers=BROWSER)
    assert done.status_code == 302, done.body
    location = urlsplit(done.headers["Location"])
    assert f"{location.scheme}://{location.netloc}" == WEB
    assert location.fragment.startswith("/accounts?")
    result = parse_qs(location.fragment.split("?", 1)[1])
    assert result == {"login": ["ok"], "account": [account["id"]]}
    assert api.call("GET", f"/accounts/{account['id']}").data["session"]["status"] == "VALID"

    again = client.http.get(f"/brokers/zerodha/callback?{query}", headers=BROWSER)
    assert again.status_code == 302  # the state works once: the app is told why
    failed = parse_qs(urlsplit(again.headers["Location"]).fragment.split("?", 1)[1])
    assert failed["login"] == ["failed"] and failed["reason"][0]
    assert "access_token" not in again.headers["Location"]


def test_script_callback_still_gets_json(client, fakes, platform_clock, with_web_app):
    platform_clock.set(datetime(2026, 11, 23, 9, 0, tzinfo=IST))
    api, _ = sign_up(client)
    _, query = broker_login(api, fakes, "zerodha", "ZWEB2")
    done = client.http.get(f"/brokers/zerodha/callback?{query}")
    assert done.status_code == 200, done.body
    assert done.json_body["logged_in"] is True


def test_cors_is_locked_to_the_app_origin_when_it_is_configured(client, fakes, with_web_app):
    answer = client.http.get("/health", headers={"Origin": "https://evil.example"})
    assert answer.status_code == 200
    assert answer.headers["Access-Control-Allow-Origin"] == WEB
    use_container(fakes["container"])  # no WEB_APP_URL: unchanged
    assert client.http.get("/health").headers.get("Access-Control-Allow-Origin") == "*"
