"""Telegram linking without a webhook (local runs, engine mode): getUpdates passes.

On AWS the bot's webhook route receives ``/start <code>``; a single long-running process (``make
run``'s clock, engine mode) has no public URL, so it asks for updates every few seconds instead.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from chalicelib.container import Container

log = logging.getLogger(__name__)
INTERVAL = 2.0  # seconds between passes: a trader who taps the deep link sees the reply at once


def poll_updates(container: Container) -> dict[str, Any]:
    """Handle pending bot updates (``/start <code>`` links a chat); how many were read."""
    return {"updates": container.notifications.linking.poll()}


def loop(
    container: Container, *, interval: float = INTERVAL, stop: threading.Event | None = None
) -> None:
    """Poll until ``stop``; nothing to do (and no thread work) when no bot is configured. A failed
    pass (Telegram down, a 409 while a webhook is set) is logged and the next one runs."""
    stop = stop or threading.Event()
    if container.telegram is None:
        return
    while not stop.is_set():
        try:
            poll_updates(container)
        except Exception:
            log.warning("telegram getUpdates pass failed", exc_info=True)
        stop.wait(interval)


def set_webhook(container: Container) -> dict[str, Any]:
    """Point the bot's webhook at this deployment's route, with the Terraform-generated secret
    (the set_telegram_webhook function; `make deploy` invokes it once after the apply). Telegram
    then sends ``X-Telegram-Bot-Api-Secret-Token`` with every update and the route refuses any
    request without it. Answers the URL only, never the secret."""
    bot, secret = container.telegram, container.telegram_webhook_secret
    if bot is None or not secret:
        return {"webhook": None, "reason": "no bot token or webhook secret on this deployment"}
    url = f"{container.settings.public_api_url.rstrip('/')}/notifications/telegram/webhook"
    bot.set_webhook(url, secret)
    log.info("telegram webhook set", extra={"url": url})
    return {"webhook": url}
