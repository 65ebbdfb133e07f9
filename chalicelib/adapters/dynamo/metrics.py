"""Counts the DynamoDB requests a block of code makes, by operation, through botocore's event hooks.

The planner logs this per tick, and the tests and benchmarks use it to prove that reading a slot
costs a fixed number of requests whatever the number of users, strategies or accounts.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from chalicelib.adapters.dynamo.models import all_models, transaction_connection


@contextmanager
def count_requests(*, every_thread: bool = False) -> Iterator[Counter[str]]:
    """The requests made by this thread inside the block (the repository makes its requests on the
    caller's thread; a notification worker or a monitor on another thread is not counted), or by
    every thread (benchmarks of code that fans out to a pool, as the planner and firer do)."""
    counts: Counter[str] = Counter()
    caller = threading.get_ident()

    def on_send(request: Any, **_: Any) -> None:
        if not every_thread and threading.get_ident() != caller:
            return
        target = request.headers.get("X-Amz-Target", b"")
        name = target.decode() if isinstance(target, bytes) else str(target)
        counts[name.rsplit(".", 1)[-1] or "unknown"] += 1

    hook = f"count-requests-{id(counts)}"  # nested counters (planner inside a benchmark) each count
    clients = {id(c): c for c in _clients()}
    for client in clients.values():
        client.meta.events.register("before-send.dynamodb", on_send, unique_id=hook)
    try:
        yield counts
    finally:
        for client in clients.values():
            client.meta.events.unregister("before-send.dynamodb", unique_id=hook)


def _clients() -> list[Any]:
    """Every botocore client the models and transactions use (PynamoDB keeps one per class).

    Built once, one at a time, from the process's one botocore session
    (``adapters/aws/shared_session.py``), however many plan-part threads ask at once."""
    models = [m._get_connection().connection.client for m in all_models()]
    return [*models, transaction_connection().client]
