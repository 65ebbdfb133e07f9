"""The execution store, telling a listener about every event it records.

Settlement (fills, rejections, unwinds) and the risk engine (stops, targets, MTM exits,
re-entries, alerts) record their decisions through ``add_event``; wrapping the store here hooks
all of them for notifications without touching either service. The listener is called only after
the write succeeded, and must return at once (it only queues).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from chalicelib.adapters.dynamo.execution_repository import ExecutionRepository
from chalicelib.adapters.dynamo.models import ExecutionItem
from chalicelib.adapters.dynamo.repository import Repository

log = logging.getLogger(__name__)
Listener = Callable[[ExecutionItem, dict[str, Any]], None]


class NotifyingExecutionRepository(ExecutionRepository):
    def __init__(self, repo: Repository, listener: Listener) -> None:
        super().__init__(repo)
        self._listener = listener

    def add_event(self, item: ExecutionItem, event: dict[str, Any]) -> None:
        super().add_event(item, event)
        try:
            self._listener(item, event)
        except Exception:  # a notification problem must never fail settlement or the monitor
            log.exception("could not queue a notification", extra={"execution": item.sk})
