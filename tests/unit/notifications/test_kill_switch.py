"""Kill switch engaged, then its square-off: flat or not (urgent when not)."""

from __future__ import annotations

from datetime import datetime

from chalicelib.domain.calendar import IST
from chalicelib.domain.notification_text import render
from chalicelib.domain.notifications import EventKind
from chalicelib.services.notifications.translate import Facts, account_label, from_kill_switch

AT = datetime(2026, 11, 25, 11, 2, tzinfo=IST)
FACTS = Facts(
    orders_of=lambda u, s: [],
    strategy_name=lambda u, s: "NIFTY short iron condor",
    account_label=lambda u, a: account_label("Main", "zerodha", "AB1234"),
)
SWITCH = {"uid": "u1", "scope": "account", "target": "A1", "reason": "broker outage",
          "engaged_at": "2026-11-25T11:02:00.000+05:30", "summary": None}  # fmt: skip


def done(square_off, errors=()):
    summary = {"cancelled": ["o9"], "square_off": square_off, "errors": list(errors)}
    return from_kill_switch(FACTS, {**SWITCH, "summary": summary}, "done", AT)


def leg(status):
    return {"order_id": "k1", "account_id": "A1", "side": "BUY", "quantity": 75,
            "status": status, "filled_quantity": 75 if status == "COMPLETE" else 0}  # fmt: skip


def test_engaged_is_urgent_and_names_the_scope_without_the_client_id():
    (event,) = from_kill_switch(FACTS, SWITCH, "engaged", AT)
    assert event.kind is EventKind.KILL_SWITCH_ENGAGED and event.urgent
    text = render(event)
    assert "Scope: account Main (zerodha AB**34)" in text and "Reason: broker outage" in text
    strategy = from_kill_switch(FACTS, {**SWITCH, "scope": "strategy", "target": "S1"},
                                "engaged", AT)  # fmt: skip
    assert "Scope: strategy NIFTY short iron condor" in render(strategy[0])


def test_done_says_flat_or_not():
    (flat,) = done([leg("COMPLETE")])
    assert not flat.urgent and "Status: FLAT" in render(flat)
    (left,) = done([leg("OPEN")])
    assert left.urgent and "NOT FLAT" in render(left)
    (failed,) = done([], errors=[{"account_id": "A1", "message": "no session"}])
    assert failed.urgent and "1 could not be squared off" in render(failed)


def test_each_stage_and_engagement_has_its_own_key():
    engaged = from_kill_switch(FACTS, SWITCH, "engaged", AT)[0].key
    assert engaged == from_kill_switch(FACTS, SWITCH, "engaged", AT)[0].key
    assert engaged != done([leg("COMPLETE")])[0].key
    later = {**SWITCH, "engaged_at": "2026-11-25T13:00:00.000+05:30"}
    assert engaged != from_kill_switch(FACTS, later, "engaged", AT)[0].key


def test_done_names_the_contract_and_its_fill_price_not_the_internal_order_id():
    row = {**leg("COMPLETE"), "contract": "NIFTY 25000 CE 2026-11-25", "average_price": "101.35"}
    text = render(done([row])[0])
    assert "BUY 75 NIFTY 25000 CE 2026-11-25: COMPLETE 75 @ 101.35" in text
    assert "k1" not in text
    older = render(done([leg("COMPLETE")])[0])  # a summary stored before the contract was kept
    assert "BUY 75 k1: COMPLETE 75 @ ?" in older
