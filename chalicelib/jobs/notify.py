"""Notification jobs: the end-of-invocation drain, the SQS consumer and the resend sweep.

The notification queue is in-process: on Lambda the worker thread is frozen once the handler
returns. The middleware (scheduled and pure-Lambda handlers: the tick's settle step, the risk
monitor, the daily jobs; not the fire batches) gives the queue up to ``DRAIN_SECONDS`` after the
handler's own work, so what it recorded is stored and its id sent to SQS in the same invocation
(a few DynamoDB and SQS calls: no Telegram wait happens there on AWS). HTTP routes are not
wrapped: the API never waits on notifications; what a route records is forwarded by its warm
container's next invocation or, failing that, by the resend sweep.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from chalicelib.container import Container, get_container

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


def deliver(container: Container, event: Mapping[str, Any]) -> dict[str, int]:
    """The SQS consumer (deliver_notifications, AWS): send the notifications a batch names. An
    error fails the batch: SQS redelivers it (sent ones are skipped) and, after a few receives,
    moves it to the dead-letter queue, whose alarm pages the operator."""
    return container.notification_delivery.handle(event.get("Records") or [])


def resend(container: Container) -> dict[str, int]:
    """The resend sweep (the clock locally, a schedule on AWS): notifications recorded but never
    delivered (a worker died between the record and the send) go out once more."""
    return {"resent": container.notifications.resend_unsent()}


def watch(container: Container) -> dict[str, int]:
    """The minute's notification watch: the resend sweep, ticks that never fired, and (every
    few minutes) broker sessions about to expire. Each part runs even when another fails; a
    failure is raised at the end (the function's error alarm on AWS)."""
    result: dict[str, int] = {}
    failed = []
    parts = {"resend": lambda: resend(container), "watch": container.notification_watch.run}
    for name, part in parts.items():
        try:
            result.update(part())
        except Exception:
            log.exception("notification watch step failed", extra={"step": name})
            failed.append(name)
    if failed:
        raise RuntimeError(f"notification watch steps failed: {', '.join(failed)}")
    return result


def loop(
    container: Container, *, interval: float = 60.0, stop: threading.Event | None = None
) -> None:
    """The watch every ``interval`` seconds (the local clock and engine mode; AWS schedules
    notification_watch); a failed pass is logged and the next one runs."""
    stop = stop or threading.Event()
    while not stop.wait(interval):
        try:
            watch(container)
        except Exception:
            log.warning("notification watch pass failed", exc_info=True)
