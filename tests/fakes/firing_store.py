"""The in-memory execution store (``tests/fakes/executions.py``) as the firer uses it: from many
threads at once (claims before T, records after the sends), and with storage outages injected per
operation.

Each operation runs under one lock, so a check of a transition's condition and its write are one
step, as one conditional write is in DynamoDB: two firers racing on one order can never both claim
it. ``fail(operation, error)`` makes the next call of that operation raise before it writes.
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Callable
from typing import Any

from tests.fakes.executions import InMemoryExecutions
from tests.fakes.records import Order


class FiringExecutions(InMemoryExecutions):
    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.RLock()
        self._faults: dict[str, list[Exception]] = {}
        self.before_write = self._fault

    def fail(self, operation: str, error: Exception, times: int = 1) -> None:
        """The next ``times`` calls of ``operation`` raise ``error`` before writing anything."""
        self._faults.setdefault(operation, []).extend([error] * times)

    def stored(self, order: Any) -> Order:
        """A copy of what the store holds for ``order``."""
        with self._lock:
            return copy.deepcopy(self.stored_order(order.uid, order.sk))

    def _fault(self, operation: str, record: Any) -> None:
        pending = self._faults.get(operation)
        if pending:
            raise pending.pop(0)


def _atomic(name: str) -> Callable[..., Any]:
    unlocked = getattr(InMemoryExecutions, name)

    @functools.wraps(unlocked)
    def locked(self: FiringExecutions, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return unlocked(self, *args, **kwargs)

    return locked


for _name in (
    "add_execution", "add_order", "get_execution", "add_event", "put_orders", "orders_of_execution",
    "claim_order", "record_sent", "record_ack", "record_unknown", "record_failed", "record_missed",
    "reopen_to_resend", "record_status",
):  # fmt: skip
    setattr(FiringExecutions, _name, _atomic(_name))
