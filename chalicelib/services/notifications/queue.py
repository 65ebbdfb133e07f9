"""The in-process notification queue: the hot path hands over a fact and returns at once.

``put`` only appends a producer (a function that builds the events, reading whatever it needs
from the table) and wakes the worker; the worker thread builds the events, lets the dispatcher
record and send them, and sleeps until the next chat's turn. A producer that fails (the table
briefly unavailable) is retried a few times with a pause, then logged and dropped.

Tests drive ``process()`` by hand instead of starting the thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from chalicelib.domain.notifications import NotificationEvent
from chalicelib.services.notifications.dispatcher import Dispatcher

log = logging.getLogger(__name__)
Producer = Callable[[], list[NotificationEvent]]
PRODUCER_ATTEMPTS = 3
IDLE_WAIT = 30.0
RETRY_PAUSE = 1.0


class InProcessQueue:
    def __init__(self, dispatcher: Dispatcher, start_worker: bool = True) -> None:
        self.dispatcher = dispatcher
        self._inbox: deque[tuple[Producer, int]] = deque()
        self._retries: list[tuple[Producer, int]] = []
        self._wake = threading.Condition()
        self._start_worker = start_worker
        self._worker: threading.Thread | None = None
        self._stopped = False
        self._busy = 0

    def put(self, producer: Producer) -> None:
        """Never raises and never blocks on I/O: safe right after the orders are sent."""
        with self._wake:
            self._inbox.append((producer, 0))
            self._wake.notify()
            if self._start_worker and self._worker is None:
                self._worker = threading.Thread(target=self._run, name="notify", daemon=True)
                self._worker.start()

    def publish(self, event: NotificationEvent) -> None:
        self.put(lambda: [event])

    def process(self) -> int:
        """Build and accept everything queued, then send what is due; returns messages sent."""
        with self._wake:
            taken = self._retries + list(self._inbox)
            self._inbox.clear()
            self._retries = []
            self._busy += 1
        try:
            return self._process(taken)
        finally:
            with self._wake:
                self._busy -= 1

    def _process(self, taken: list[tuple[Producer, int]]) -> int:
        for producer, attempts in taken:
            try:
                events = producer()
                for event in events:
                    self.dispatcher.accept(event)
            except Exception:
                log.exception("notification producer failed", extra={"attempt": attempts + 1})
                if attempts + 1 < PRODUCER_ATTEMPTS:
                    with self._wake:
                        self._retries.append((producer, attempts + 1))
        return self.dispatcher.flush()

    def idle(self) -> bool:
        """Nothing queued, being processed, or waiting for a chat's turn."""
        with self._wake:
            queued = bool(self._inbox or self._retries or self._busy)
        return not queued and self.dispatcher.pending() == 0

    def drain(self, timeout: float, pause: Callable[[float], None] = time.sleep) -> bool:
        """Wait (bounded) until the worker has delivered everything; True when idle."""
        deadline = time.monotonic() + timeout
        while not self.idle():
            if time.monotonic() >= deadline:
                return False
            pause(0.02)
        return True

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                if self._stopped:
                    return
                if not self._inbox:
                    self._wake.wait(self._wait())
            try:
                self.process()
            except Exception:
                log.exception("notification worker cycle failed")
                time.sleep(1.0)

    def _wait(self) -> float:
        due = self.dispatcher.next_due()
        wait = IDLE_WAIT if due is None else max(0.05, due - self.dispatcher.monotonic())
        return min(wait, RETRY_PAUSE) if self._retries else wait
