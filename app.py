"""The Chalice app: routes from blueprints, and the Step Functions task handlers.

Thin by design: every route lives in chalicelib/api, every job in chalicelib/jobs.
"""

from __future__ import annotations

import logging
from typing import Any

from chalice import Chalice, Cron

from chalicelib.api import (
    accounts,
    baskets,
    broker_callbacks,
    executions,
    fallback,
    identity,
    market,
    notifications,
    strategies,
    system,
)
from chalicelib.api.routing import cors_origin, error_envelope
from chalicelib.container import get_container
from chalicelib.jobs import (
    instruments,
    kill_switch,
    notify,
    readiness,
    reconcile,
    recovery,
    telegram,
    tick,
)
from chalicelib.jobs import risk as risk_jobs

app = Chalice(app_name="optexec")
app.log.setLevel(logging.INFO)

for blueprint in (
    system, identity, accounts, broker_callbacks, baskets, strategies, market, executions,
    notifications,
    fallback,  # last: unknown routes answer 404 in the error envelope
):  # fmt: skip
    app.register_blueprint(blueprint.bp)
# Before the handlers below: Chalice binds middleware when a handler is declared.
for event_type in ("scheduled", "pure_lambda"):
    app.register_middleware(notify.deliver_after, event_type)
app.register_middleware(error_envelope, "http")
app.register_middleware(cors_origin, "http")


@app.lambda_function(name="plan_tick")
def plan_tick(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Step Functions task: plan slot T (started by the scheduler at T-1 min)."""
    return tick.plan(get_container(), event)


@app.lambda_function(name="fire_batch")
def fire_batch(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Step Functions Map task: fire one batch of orders at T."""
    return tick.fire(get_container(), event)


@app.lambda_function(name="settle_slot")
def settle_slot(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Step Functions task after the fan-out: settle every execution of the slot."""
    return tick.settle(get_container(), event)


@app.lambda_function(name="deliver_notifications")
def deliver_notifications(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """SQS consumer (infra/notifications.tf maps the delivery queue to it, reserved concurrency
    1): send each notification a message names, once; a long wait goes back to the queue."""
    return notify.deliver(get_container(), event)


@app.lambda_function(name="set_telegram_webhook")
def set_telegram_webhook(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """One-shot (`make deploy` invokes it): register the webhook route and its secret with
    Telegram."""
    return telegram.set_webhook(get_container())


@app.schedule(Cron("*", "2-11", "?", "*", "MON-FRI", "*"), name="notification_watch")
def notification_watch(event: Any) -> dict[str, Any]:
    """Every minute of 07:30-17:29 IST on weekdays: resend notifications a dead worker left
    unsent, warn about broker sessions about to expire and planned ticks that never fired."""
    return notify.watch(get_container())


@app.schedule(Cron(0, 3, "?", "*", "MON-FRI", "*"), name="pre_market_readiness")
def pre_market_readiness(event: Any) -> dict[str, Any]:
    """08:30 IST (03:00 UTC) on weekdays: alert about accounts that need today's broker login."""
    return readiness.pre_market(get_container())


@app.schedule(Cron(15, 3, "?", "*", "MON-FRI", "*"), name="instrument_refresh")
def instrument_refresh(event: Any) -> dict[str, Any]:
    """08:45 IST (03:15 UTC) on weekdays: load today's broker instrument masters (tokens)."""
    return instruments.refresh(get_container())


@app.schedule(Cron("0/5", "3-10", "?", "*", "MON-FRI", "*"), name="risk_monitor")
def risk_monitor(event: Any) -> dict[str, Any]:
    """Every 5 minutes of 08:30-16:25 IST on weekdays: the price monitor (stops, targets,
    trailing, MTM, re-entry) for about 295 s at one cycle a second; idle outside the session. The
    last cycle starts with 65 s of the 360 s timeout left (a cold master download fits)."""
    context = getattr(event, "context", None)
    remaining = (
        (lambda: context.get_remaining_time_in_millis() / 1000) if context is not None else None
    )
    return risk_jobs.lambda_run(get_container(), remaining)


@app.schedule(Cron("*", "3-10", "?", "*", "MON-FRI", "*"), name="kill_switch_driver")
def kill_switch_driver(event: Any) -> dict[str, Any]:
    """Every minute of 08:30-16:29 IST on weekdays: the next passes of every engaged kill switch
    (square-off retried with backoff through a broker outage, alert after a few passes); idle in
    one Query when nothing is engaging."""
    return kill_switch.lambda_run(get_container())


@app.schedule(Cron("*", "3-10", "?", "*", "MON-FRI", "*"), name="recovery_sweep")
def recovery_sweep(event: Any) -> dict[str, Any]:
    """Every minute of 08:30-16:29 IST on weekdays: resolve every order left claimed, sent or
    unknown by a crashed or timed-out Lambda against the brokers, and settle what it finds."""
    return recovery.sweep(get_container())


@app.schedule(Cron(15, 10, "?", "*", "MON-FRI", "*"), name="end_of_day_reconciliation")
def end_of_day_reconciliation(event: Any) -> dict[str, Any]:
    """15:45 IST (10:15 UTC) on weekdays: settle whatever the day left open."""
    return reconcile.end_of_day(get_container())
