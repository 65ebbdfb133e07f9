"""Blindness is an alarm: a book the monitor cannot price says so at once, urgently, and again
while it lasts (never more often than every 30 s); a refused stop modification falls back to
cancel-and-replace at once instead of being retried."""

from __future__ import annotations

from tests.integration.risk.harness import SHORT_SL30, Scenario, Sim, anything

TRAILING = {"side": "SELL", "stop_loss": {"type": "POINTS", "value": "20"},
            "trailing": {"every": "10", "by": "5"}}  # fmt: skip


def test_a_refused_modification_cancels_and_replaces_the_stop_at_once(sim: Sim):
    s = Scenario(sim, [TRAILING], {})
    s.enter()
    s.trap("modify", anything, "reject", count=25)
    s.price(0, "89.00")  # the stop trails to 115: the broker refuses every modification
    s.steps(2)
    resting = [
        o for o in s.broker_orders() if o.order_type == "SL" and o.status == "TRIGGER_PENDING"
    ]
    assert [o.trigger_price for o in resting] == [115]  # placed anew within two cycles
    assert len([e for e in s.events("alert") if e["code"] == "stop_modification_refused"]) == 1
    s.steps(3)
    assert len([p for p in s.placed() if p["order_type"] == "SL"]) == 2
    s.check()


def test_an_expired_token_is_an_urgent_alert_repeated_while_it_lasts(sim: Sim):
    s = Scenario(
        sim,
        [{**SHORT_SL30, "target": {"type": "POINTS", "value": "20"}}],
        {"mtm_stop_loss": "1000"},
    )
    s.enter()
    sim.kite.expire_sessions(s.client_id)  # mid-session: quotes and orders refused
    s.price(0, "79.00")  # the target is crossed, but nobody can see it
    s.step()
    blind = [e for e in s.events("alert") if e["code"] == "blind"]
    assert blind and all(e["urgent"] for e in blind)
    first = len(blind)
    s.steps(5)  # still blind: not said again every second
    assert len([e for e in s.events("alert") if e["code"] == "blind"]) == first
    s.step(seconds=30)
    assert len([e for e in s.events("alert") if e["code"] == "blind"]) == 2 * first
    s.check()
