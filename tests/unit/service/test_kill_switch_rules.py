"""The kill switch's pure rules: what blocks an entry, when a pass may call the scope flat, and
how long the driver waits between passes."""

from __future__ import annotations

from chalicelib.adapters.dynamo.kill_switch_items import KillSwitchItem
from chalicelib.domain.kill_switch import PassOutcome, blocking_reason, retry_delay


def _switch(scope: str, target: str) -> KillSwitchItem:
    return KillSwitchItem(
        "USER#u", f"KILL#{scope}#{target}", uid="u", scope=scope, target=target,
        engaged_by="ops", engaged_at="2026-11-25T11:00:00.000+05:30", reason="drill",
    )  # fmt: skip


def test_blocking_reason_by_scope():
    assert blocking_reason([_switch("strategy", "s1")], "s1", "a1")
    assert blocking_reason([_switch("strategy", "s1")], "s2", "a1") is None
    assert blocking_reason([_switch("account", "a1")], "s2", "a1")
    assert blocking_reason([_switch("account", "a1")], "s2", "a2") is None
    reason = blocking_reason([_switch("all", "ALL")], "s9", None)
    assert reason and "all trading" in reason and "ops" in reason and "drill" in reason


def test_a_pass_is_flat_only_when_nothing_is_held_blocked_or_unpriced():
    assert PassOutcome().flat  # nothing was open: flat, with nothing squared off
    held = PassOutcome(open=[{"symbol": "NIFTY-2026-12-01-26000-CE", "net_quantity": -65}])
    assert not held.flat
    blocked = PassOutcome()
    blocked.block("s1", "a1", "broker_unavailable", "503")
    assert not blocked.flat and blocked.blocked[0]["code"] == "broker_unavailable"
    assert not PassOutcome(errors=[{"code": "no_price"}]).flat


def test_backoff_between_passes_doubles_then_caps_at_a_minute():
    assert [retry_delay(n) for n in range(1, 8)] == [2, 4, 8, 16, 32, 60, 60]


def test_an_operation_leaves_the_driver_index_when_flat():
    item = _switch("all", "ALL")
    item.schedule("2026-11-25T11:00:02.000+05:30")
    assert item.gsi1pk == "KILLOPS" and item.gsi1sk.startswith("2026-11-25T11:00:02.000+05:30#u#")
    item.schedule(None)
    assert item.gsi1pk is None and item.gsi1sk is None and item.next_attempt_at is None


def test_a_stalled_operation_is_never_notified_as_flat():
    """Reproduction 10 seen from the user's phone: nothing squared off during an outage must not
    read "FLAT" (an empty square-off with no errors used to)."""
    from datetime import datetime

    from chalicelib.domain.calendar import IST
    from chalicelib.domain.notification_text import render
    from chalicelib.services.notifications.translate import Facts, from_kill_switch

    facts = Facts(
        orders_of=lambda u, s: [], strategy_name=lambda u, s: "s", account_label=lambda u, a: a
    )
    summary = {
        "cancelled": [],
        "square_off": [],
        "errors": [],
        "blocked": [{"account_id": "A1", "code": "broker_unavailable", "message": "503"}],
    }
    switch = {"uid": "u", "scope": "all", "target": "ALL", "reason": "", "summary": summary,
              "engaged_at": "2026-11-25T12:00:00.000+05:30", "status": "ENGAGING"}  # fmt: skip
    at = datetime(2026, 11, 25, 12, 0, 8, tzinfo=IST)
    (stalled,) = from_kill_switch(facts, switch, "stalled", at)
    assert stalled.urgent and "NOT FLAT" in render(stalled)
    (flat,) = from_kill_switch(facts, {**switch, "status": "FLAT",
                                       "summary": {**summary, "blocked": []}}, "done", at)  # fmt: skip
    assert not flat.urgent and "Status: FLAT" in render(flat)
