"""Stores that tell a listener what they recorded, so notifications hook in without touching
the services that record.

The execution store: every event it records.

Settlement (fills, rejections, unwinds) and the risk engine (stops, targets, MTM exits,
re-entries, alerts) record their decisions through ``add_event``; wrapping the store here hooks
all of them without touching either service.

The kill-switch store: a switch engaged (``put``), then its outcome (``save`` with the summary of
what was cancelled and squared off).

Listeners are called only after the write succeeded, must return at once (they only queue), and
their failures are logged, never raised into the service.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from chalicelib.adapters.dynamo.execution_repository import ExecutionRepository
from chalicelib.adapters.dynamo.kill_switch_items import KillSwitchItem, KillSwitchRepository
from chalicelib.adapters.dynamo.models import ExecutionItem
from chalicelib.adapters.dynamo.repository import Repository

log = logging.getLogger(__name__)
Listener = Callable[[ExecutionItem, dict[str, Any]], None]
KillListener = Callable[[KillSwitchItem, str], None]


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


class NotifyingKillSwitchRepository(KillSwitchRepository):
    def __init__(self, listener: KillListener) -> None:
        self._listener = listener

    def put(self, item: KillSwitchItem) -> None:
        super().put(item)
        self._tell(item, "engaged")

    def save(self, item: KillSwitchItem) -> None:
        super().save(item)
        if item.summary is not None:
            self._tell(item, "done")

    def _tell(self, item: KillSwitchItem, stage: str) -> None:
        try:
            self._listener(item, stage)
        except Exception:
            log.exception("could not queue a notification", extra={"user": item.uid})
