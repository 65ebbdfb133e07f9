"""Telegram settings: the real host by default, overridable; the token never in a repr."""

from __future__ import annotations

from chalicelib.settings import Settings


def test_defaults_to_telegrams_host_and_reads_overrides():
    assert Settings.from_env({}).telegram_api_url == "https://api.telegram.org"
    s = Settings.from_env(
        {"TELEGRAM_API_URL": "http://127.0.0.1:9", "TELEGRAM_BOT_TOKEN": "1:SECRET-x",
         "TELEGRAM_BOT_USERNAME": "b", "TELEGRAM_BOT_TOKEN_PARAMETER": "/p",
         "TELEGRAM_WEBHOOK_SECRET": "hook-SECRET"}
    )  # fmt: skip
    assert (s.telegram_api_url, s.telegram_bot_username) == ("http://127.0.0.1:9", "b")
    assert (s.telegram_bot_token, s.telegram_bot_token_parameter) == ("1:SECRET-x", "/p")
    assert "SECRET" not in repr(s)
