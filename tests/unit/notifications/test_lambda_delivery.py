"""Queued notifications get delivered before a Lambda invocation returns (scheduled and pure
Lambda handlers), never inside an HTTP request."""

from __future__ import annotations

import pytest
from chalice.app import MiddlewareHandler

from chalicelib import container as composition
from chalicelib.container import use_container
from chalicelib.jobs.notify import DRAIN_SECONDS, deliver_after


class DrainRecorder:
    def __init__(self, idle: bool = True) -> None:
        self.calls: list[float] = []
        self.idle = idle

    def drain_notifications(self, timeout: float) -> bool:
        self.calls.append(timeout)
        return self.idle


@pytest.fixture
def recorder():
    recorder, installed = DrainRecorder(), composition._container
    use_container(recorder)  # type: ignore[arg-type]
    yield recorder
    use_container(installed)  # whatever a session fixture had installed


def test_the_handler_runs_first_then_the_queue_drains(recorder):
    order = []

    def handler(event):
        order.append(("handler", len(recorder.calls)))
        return {"ok": event}

    assert deliver_after(1, handler) == {"ok": 1}
    assert order == [("handler", 0)] and recorder.calls == [DRAIN_SECONDS]


def test_it_drains_even_when_the_handler_fails_and_keeps_the_error(recorder):
    def handler(event):
        raise RuntimeError("tick failed")

    with pytest.raises(RuntimeError, match="tick failed"):
        deliver_after(1, handler)
    assert recorder.calls == [DRAIN_SECONDS]


def _middleware_of(handler) -> list:
    """The middleware a Chalice event handler runs. Chalice keeps a one-shot generator until the
    first call builds the chain, so read the built chain when there is one (an earlier test may
    have invoked the handler) and otherwise keep a list in the generator's place."""
    if handler.handler is None:
        handler.middleware_handlers = list(handler.middleware_handlers)
        return handler.middleware_handlers
    chain, current = [], handler.handler
    while isinstance(current, MiddlewareHandler):
        chain.append(current.handler)
        current = current.next_handler
    return chain


def test_every_lambda_and_schedule_handler_is_wrapped_but_no_route():
    import app as module

    for name in ("plan_tick", "fire_batch", "settle_slot", "pre_market_readiness",
                 "risk_monitor", "end_of_day_reconciliation"):  # fmt: skip
        handler = getattr(module, name)
        assert deliver_after in _middleware_of(handler), name
    # Routes never wait for deliveries (the API's error-envelope middleware is the only http one).
    assert all(kind != "http" for f, kind in module.app.middleware_handlers if f is deliver_after)


def test_fire_batches_never_wait_for_notifications(recorder):
    class Event:
        class context:
            function_name = "optexec-prod-fire_batch"

    assert deliver_after(Event(), lambda event: "sent") == "sent"
    assert recorder.calls == []
    Event.context.function_name = "optexec-prod-settle_slot"
    deliver_after(Event(), lambda event: "settled")
    assert recorder.calls == [DRAIN_SECONDS]
