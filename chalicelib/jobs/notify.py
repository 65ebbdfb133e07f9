"""Delivery at the end of a Lambda invocation.

The notification queue is in-process: on Lambda the worker thread is frozen once the handler
returns. This middleware (scheduled and pure-Lambda handlers: the tick's settle step, the risk
monitor, the daily jobs; not the fire batches) gives the queue up to ``DRAIN_SECONDS`` after the handler's own work,
so what it recorded goes out in the same invocation. HTTP routes are not wrapped: the API never
waits on notifications. What is still queued at the deadline waits for the next invocation of
that warm container (or is lost with it): SQS is the missing piece (docs/notifications.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from chalicelib.container import get_container

log = logging.getLogger(__name__)
DRAIN_SECONDS = 10.0
#: Handlers that never wait: the Map's fire batches finish as soon as their orders are sent.
NOT_AFTER = ("fire_batch",)


def deliver_after(event: Any, get_response: Callable[[Any], Any]) -> Any:
    try:
        return get_response(event)
    finally:
        function = str(getattr(getattr(event, "context", None), "function_name", "") or "")
        if not function.endswith(NOT_AFTER):
            _drain()


def _drain() -> None:
    try:
        if not get_container().drain_notifications(DRAIN_SECONDS):
            log.warning("notifications still queued at the end of the invocation")
    except Exception:
        log.exception("notification delivery at the end of the invocation failed")
