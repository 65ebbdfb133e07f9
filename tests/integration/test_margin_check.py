"""The margin check before an entry, on the simulated exchange through the fake brokers' margin
and funds endpoints (each in its broker's dialect): an account that cannot pay for the basket is
left out of the plan with the figures and nothing reaches its broker; a failing margin endpoint
lets the entry go unchecked with an alert (fail open); ``risk.margin_check: false`` skips it.
On an injected clock (passes at any date and hour)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.domain.calendar import IST
from chalicelib.services.clock import ShiftedClock
from sim.faults import Fault
from tests.integration.execution_rig import Rig, make_rig

DAY = datetime(2026, 11, 25, tzinfo=IST)  # a Wednesday and a trading day


@pytest.fixture
def rig(client, fakes, platform_clock: ShiftedClock) -> Rig:
    platform_clock.set(DAY.replace(hour=8, minute=50))
    return make_rig(client, fakes)


def _spread(rig: Rig, at: str, broker: str = "zerodha", **risk: Any) -> str:
    """A bear call spread (short ATM call, long call four strikes up) on one account."""
    basket = rig.api.call("POST", "/baskets", {"name": "margin", "enabled": True}).data
    legs = [("SELL", 0), ("BUY", 4)]
    body = {
        "basket_id": basket["id"], "name": f"spread {at}", "underlying": "NIFTY",
        "expiry": "current_week", "product": "MIS",
        "entry": {"time": at, "days": ["WED"]}, "exit": {"time": "15:15:00"},
        "allocations": [{"account_id": rig.account(broker)["id"], "multiplier": 1}],
        "legs": [{"side": side, "option_type": "CE",
                  "strike": {"method": "ATM_OFFSET", "value": offset}, "lots": 1}
                 for side, offset in legs],
        "risk": risk,
    }  # fmt: skip
    created = rig.api.call("POST", "/strategies", body)
    assert created.status_code == 201, created.body
    return created.data["id"]


def _plan(rig: Rig, clock: ShiftedClock, at: str, strategy_id: str):
    slot = datetime.combine(DAY.date(), datetime.strptime(at, "%H:%M:%S").time(), tzinfo=IST)
    clock.set(slot - timedelta(seconds=20))
    [planned] = [
        e
        for e in rig.container.planner.plan(slot).executions
        if e.uid == rig.uid and e.strategy_id == strategy_id
    ]
    return planned


@pytest.mark.parametrize("broker", ["zerodha", "shoonya"])
def test_an_account_short_of_margin_is_left_out_with_the_figures(
    rig: Rig, platform_clock: ShiftedClock, broker: str
):
    clock = platform_clock
    client_id = rig.account(broker)["client_id"]
    rich = _spread(rig, "09:20:00", broker)
    planned = _plan(rig, clock, "09:20:00", rich)
    assert planned.errors == [] and len(planned.orders) == 2  # one crore covers a spread

    rig.exchange.set_funds(client_id, Decimal(5000))
    poor = _spread(rig, "09:25:00", broker)
    skipped = _plan(rig, clock, "09:25:00", poor)
    assert skipped.orders == []
    [error] = skipped.errors
    assert (
        error["code"] == "insufficient_margin" and error["account_id"] == rig.account(broker)["id"]
    )
    required, available = Decimal(error["required"]), Decimal(error["available"])
    assert available == Decimal(5000) - _blocked_by(rig, client_id)
    assert required > available and Decimal(error["shortfall"]) == required - available
    # the spread's benefit: far less than a naked short's floor-or-more requirement
    spot = rig.exchange.spot("NIFTY")
    assert required < spot * 65 * Decimal("0.04")
    assert "not enough margin" in error["message"]
    execution = rig.container.executions.get_execution(rig.uid, skipped.execution_sk)
    assert execution.status == "SKIPPED" and execution.summary["reason"].startswith(
        "insufficient_margin"
    )
    assert rig.exchange.orders(client_id) == []  # nothing was ever sent to the broker
    assert rig.container.notifications.queue.drain(timeout=10)
    kinds = [n["kind"] for n in rig.api.call("GET", "/notifications").data["notifications"]]
    assert "margin_insufficient" in kinds

    unchecked = _spread(rig, "09:30:00", broker, margin_check=False)
    allowed = _plan(rig, clock, "09:30:00", unchecked)
    assert allowed.errors == [] and len(allowed.orders) == 2


def _blocked_by(rig: Rig, client_id: str) -> Decimal:
    from sim.margin import open_legs, requirement

    return requirement(open_legs(rig.exchange.positions(client_id)), rig.exchange.spot).total


def test_a_failing_margin_endpoint_lets_the_entry_go_unchecked_with_an_alert(
    rig: Rig, platform_clock: ShiftedClock
):
    clock = platform_clock
    alerts: list[tuple[str, dict[str, Any]]] = []
    check = rig.container.margin_check
    check.alert = lambda subject, details: alerts.append((subject, details))
    # Shoonya: the planner's quotes come through the Kite account, so the fault hits the margin
    shoonya = rig.shoonya["client_id"]
    rig.exchange.set_funds(shoonya, Decimal(1000))  # would not fit, if asked
    rig.server("shoonya").inject(shoonya, Fault.SERVER_ERROR, status=500)
    strategy = _spread(rig, "09:40:00", "shoonya")
    planned = _plan(rig, clock, "09:40:00", strategy)
    assert len(planned.orders) == 2  # fail open: the broker's own RMS still applies at T
    [error] = planned.errors
    assert error["code"] == "margin_unchecked" and error["account_id"] == rig.shoonya["id"]
    assert "could not be checked" in error["message"]
    assert [a[0] for a in alerts] == ["Margin check failed: entry sent unchecked"]
    assert alerts[0][1]["account"] == rig.shoonya["id"]
    assert rig.container.notifications.queue.drain(timeout=10)
    kinds = [n["kind"] for n in rig.api.call("GET", "/notifications").data["notifications"]]
    assert "margin_unchecked" in kinds
