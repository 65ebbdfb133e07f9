"""The "log in" link of an account-not-ready message must open where a phone can act on it."""

from __future__ import annotations

from datetime import datetime

from chalicelib.container import Container
from chalicelib.domain.calendar import IST
from chalicelib.domain.notification_text import render
from chalicelib.services.notifications.translate import from_readiness
from chalicelib.settings import Settings

AT = datetime(2026, 11, 25, 8, 30, tzinfo=IST)
BASE = {
    "TABLE_NAME": "t",
    "USER_POOL_ID": "p",
    "USER_POOL_CLIENT_ID": "c",
    "SECRETS_KMS_KEY_ID": "k",
}
SUMMARY = {
    "date": "2026-11-25",
    "not_ready": [{"uid": "u1", "account_id": "A1", "broker": "zerodha"}],
}


def link(env: dict[str, str]) -> str:
    container = Container(Settings.from_env({**BASE, "STAGE": "dev", **env}), clock=lambda: AT)
    (event,) = from_readiness(SUMMARY, container.notifications.login_base, AT)
    return render(event)


def test_with_a_web_app_the_link_opens_its_account_page_not_the_token_only_api_route():
    text = link(
        {"WEB_APP_URL": "https://app.example.in", "PUBLIC_API_URL": "https://api.example.in"}
    )
    assert "Log in: https://app.example.in/#/accounts/A1/login" in text


def test_without_a_web_app_the_link_is_the_api_route():
    text = link({"PUBLIC_API_URL": "https://api.example.in"})
    assert "Log in: https://api.example.in/accounts/A1/login" in text
