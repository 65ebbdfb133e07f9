"""Telegram Bot API client (``sendMessage``, ``getUpdates``, ``setWebhook``) over httpx.

Every call is ``POST <base>/bot<token>/<method>`` with a JSON body; every answer is
``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": N, "description": "...",
"parameters": {"retry_after": S}}``. The base URL is a setting (the fake on loopback locally,
``https://api.telegram.org`` on AWS), so the same code talks to both.

Errors (the tree of ``chalicelib/ports/telegram_errors.py``; callers never see httpx's)::

    TelegramError
     ├── TelegramRateLimited     429: wait ``retry_after`` seconds, then retry
     ├── TelegramUnauthorized    401: the bot token is wrong or revoked; retrying cannot help
     ├── TelegramChatUnavailable 400 chat not found / 403 blocked by the user; do not retry
     └── TelegramUnavailable     5xx, timeouts, connection errors; retry with backoff

The token is part of every URL: it is never put in an exception message, and httpx's request
log lines are redacted by a filter on the ``httpx`` logger.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import httpx

from chalicelib.ports.telegram_errors import (
    TelegramChatUnavailable,
    TelegramError,
    TelegramRateLimited,
    TelegramUnauthorized,
    TelegramUnavailable,
)

TIMEOUT = httpx.Timeout(connect=3.0, read=10.0, write=5.0, pool=3.0)
_BOT_PATH = re.compile(r"/bot[^/\s\"']+/")
__all__ = [
    "TelegramBot",
    "TelegramChatUnavailable",
    "TelegramError",
    "TelegramRateLimited",
    "TelegramUnauthorized",
    "TelegramUnavailable",
]


class _RedactBotToken(logging.Filter):
    """Rewrites ``/bot<token>/`` in any record of the logger it sits on."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/bot" in message:
            record.msg, record.args = _BOT_PATH.sub("/bot<redacted>/", message), ()
        return True


def _install_redaction() -> None:
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactBotToken) for f in logger.filters):
        logger.addFilter(_RedactBotToken())


class TelegramBot:
    def __init__(
        self, base_url: str, token: str, username: str, client: httpx.Client | None = None
    ) -> None:
        if not token:
            raise ValueError("a bot token is required")
        _install_redaction()
        self._base = f"{base_url.rstrip('/')}/bot{token}"
        self.username = username
        self._client = client or httpx.Client(timeout=TIMEOUT)

    def __repr__(self) -> str:  # the token must not appear in reprs either
        return f"TelegramBot(username={self.username!r})"

    def deep_link(self, code: str) -> str:
        return f"https://t.me/{self.username}?start={code}"

    def send_message(self, chat_id: int | str, text: str) -> dict[str, Any]:
        return self._call("sendMessage", {"chat_id": chat_id, "text": text})

    def get_updates(self, offset: int | None = None, timeout: int = 0) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"timeout": timeout, "allowed_updates": ["message"]}
        if offset is not None:
            body["offset"] = offset
        return list(self._call("getUpdates", body, read_timeout=timeout + 10.0))

    def set_webhook(self, url: str, secret_token: str) -> bool:
        body = {"url": url, "secret_token": secret_token, "allowed_updates": ["message"]}
        return bool(self._call("setWebhook", body))

    def _call(self, method: str, body: dict[str, Any], read_timeout: float | None = None) -> Any:
        timeout = TIMEOUT
        if read_timeout is not None:
            timeout = httpx.Timeout(connect=3.0, read=read_timeout, write=5.0, pool=3.0)
        try:
            response = self._client.post(f"{self._base}/{method}", json=body, timeout=timeout)
        except httpx.HTTPError as error:
            raise TelegramUnavailable(f"{method}: {type(error).__name__}") from None
        try:
            doc = response.json()
        except ValueError:
            raise TelegramUnavailable(f"{method}: HTTP {response.status_code}, not JSON") from None
        if doc.get("ok") is True:
            return doc.get("result")
        raise _error(method, response.status_code, doc)


def _error(method: str, status: int, doc: dict[str, Any]) -> TelegramError:
    code = int(doc.get("error_code") or status)
    message = f"{method}: {code} {doc.get('description', '')}".strip()
    if code == 429:
        retry_after = float((doc.get("parameters") or {}).get("retry_after") or 1)
        return TelegramRateLimited(message, retry_after)
    if code == 401:
        return TelegramUnauthorized(message, code=code)
    if code in (400, 403):
        return TelegramChatUnavailable(message, code=code)
    return TelegramUnavailable(message, code=code)
