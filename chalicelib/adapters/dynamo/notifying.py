"""Stores that tell a listener what they recorded, so notifications hook in without touching
the services that record.

The execution store: every event it records.

Settlement (fills, rejections, unwinds) and the risk engine (stops, targets, MTM exits,
re-entries, alerts) record their decisions through ``add_event``; wrapping the store here hooks
all of them without touching either service.

The kill-switch store: a switch engaged (``create``), then its outcome (``save`` of the pass that
found the scope flat, or of the pass that raised its alert), with the summary of what was
cancelled and squared off.

Listeners are called only after the write succeeded, must return at once (they only queue), and
their failures are logged, never raised into the service.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from chalicelib.adapters.dynamo.execution_repository import ExecutionRepository
from chalicelib.adapters.dynamo.kill_switch_items import FLAT, KillSwitchItem, KillSwitchRepository
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
    """``engaged`` when an operation is created (not when a request joins it), ``done`` when a
    pass found the scope flat, ``stalled`` at the pass that raised the operation's alert."""

    def __init__(self, listener: KillListener) -> None:
        self._listener = listener

    def create(self, item: KillSwitchItem) -> bool:
        created = super().create(item)
        if created:
            self._tell(item, "engaged")
        return created

    def save(self, item: KillSwitchItem) -> bool:
        saved = super().save(item)
        if saved and item.status == FLAT:
            self._tell(item, "done")
        elif saved and (item.events or [{}])[-1].get("kind") == "alert":
            self._tell(item, "stalled")
        return saved

    def _tell(self, item: KillSwitchItem, stage: str) -> None:
        try:
            self._listener(item, stage)
        except Exception:
            log.exception("could not queue a notification", extra={"user": item.uid})
