"""What can go wrong talking to the Telegram Bot API, in the notification services' terms::

    TelegramError
     ├── TelegramRateLimited     429: wait ``retry_after`` seconds, then retry
     ├── TelegramUnauthorized    401: the bot token is wrong or revoked; retrying cannot help
     ├── TelegramChatUnavailable 400 chat not found / 403 blocked by the user; do not retry
     └── TelegramUnavailable     5xx, timeouts, connection errors; retry with backoff

The bot adapter (``adapters/telegram.py``) raises them; the dispatcher and the chat linking
(``services/notifications/``) decide on them. ``retryable`` says whether a later try may pass.
"""

from __future__ import annotations


class TelegramError(Exception):
    retryable = False

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class TelegramRateLimited(TelegramError):
    retryable = True

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message, code=429)
        self.retry_after = retry_after


class TelegramUnauthorized(TelegramError):
    pass


class TelegramChatUnavailable(TelegramError):
    pass


class TelegramUnavailable(TelegramError):
    retryable = True
