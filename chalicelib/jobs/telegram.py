"""Telegram linking without a webhook (local runs, engine mode): one getUpdates pass."""

from __future__ import annotations

from typing import Any

from chalicelib.container import Container


def poll_updates(container: Container) -> dict[str, Any]:
    """Handle pending bot updates (``/start <code>`` links a chat); how many were read."""
    return {"updates": container.notifications.linking.poll()}
