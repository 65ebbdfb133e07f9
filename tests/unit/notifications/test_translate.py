"""Recorded execution events and the readiness summary -> notification events."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace

from chalicelib.domain.calendar import IST
from chalicelib.domain.notification_text import render
from chalicelib.domain.notifications import EventKind
from chalicelib.errors import NotFound
from chalicelib.services.notifications.translate import (
    ExecutionRef,
    Facts,
    account_label,
    from_execution_event,
    from_readiness,
)

AT = datetime(2026, 11, 25, 9, 20, 1, tzinfo=IST)
REF = ExecutionRef("u1", "EXEC#2026-11-25#S1#ENTRY", "S1", "ENTRY", "2026-11-25")


def order(order_id: str, status: str, side: str = "SELL", **extra):
    return SimpleNamespace(
        order_id=order_id, status=status, phase=extra.pop("phase", "ENTRY"), account_id="A1",
        tag="S1L1", filled_quantity=extra.pop("filled", 0), average_price=extra.pop("avg", None),
        scheduled_at="2026-11-25T09:20:00.000+05:30", sent_at="2026-11-25T09:20:00.014+05:30",
        request={"side": side, "quantity": 75, "underlying": "NIFTY", "strike": "24500",
                 "option_type": "CE", "expiry": "2026-11-27"},
        error=extra.pop("error", None), history=extra.pop("history", []),
    )  # fmt: skip


def facts(orders):
    def label(uid, account_id):
        if account_id == "GONE":
            raise NotFound("account not found")
        return account_label("Main", "zerodha", "AB1234")

    return Facts(
        orders_of=lambda uid, sk: orders,
        strategy_name=lambda uid, sid: "NIFTY short iron condor",
        account_label=label,
    )


def test_settled_entry_tells_fills_and_each_rejection_with_the_brokers_reason():
    orders = [
        order("o1", "COMPLETE", filled=75, avg="101.35"),
        order("o2", "REJECTED", side="BUY",
              history=[{"status": "REJECTED", "message": "RMS: margin exceeds"}]),
        order("u1", "COMPLETE", phase="UNWIND"),
    ]  # fmt: skip
    settled = {"at": "x", "kind": "settled", "status": "PARTIAL", "orders": 2, "complete": 1}
    events = from_execution_event(facts(orders), REF, settled, AT)
    assert [e.kind for e in events] == [EventKind.ENTRY_DONE, EventKind.ORDER_REJECTED]
    entry, rejected = (render(e) for e in events)
    assert "- SELL 75 NIFTY 24500 CE 2026-11-27: COMPLETE 75 @ 101.35 (T+14 ms)" in entry
    assert "Status: PARTIAL" in entry and "UNWIND" not in entry
    assert "Reason: RMS: margin exceeds" in rejected
    assert "Account: Main (zerodha AB**34)" in rejected
    assert "AB1234" not in entry + rejected


def test_the_same_record_again_has_the_same_key_and_a_new_status_a_new_one():
    settled = {"kind": "settled", "status": "COMPLETE", "orders": 1}
    first = from_execution_event(facts([]), REF, {**settled, "at": "t1"}, AT)
    again = from_execution_event(facts([]), REF, {**settled, "at": "t2"}, AT)
    other = from_execution_event(facts([]), REF, {**settled, "status": "FAILED"}, AT)
    assert first[0].key == again[0].key != other[0].key


def test_risk_events_map_to_kinds_and_alerts_by_code():
    cases = {
        ("stop_placed", None): EventKind.STOP_PLACED,
        ("stop_loss", None): EventKind.STOP_HIT,
        ("trail", None): EventKind.STOP_TRAILED,
        ("move_to_cost", None): EventKind.STOP_TO_COST,
        ("target", None): EventKind.TARGET_HIT,
        ("mtm_exit", None): EventKind.MTM_EXIT,
        ("closed", None): EventKind.POSITION_CLOSED,
        ("re_entered", None): EventKind.RE_ENTRY,
        ("alert", "risk_not_armed"): EventKind.STOP_NOT_PLACED,
        ("alert", "stop_order_refused"): EventKind.STOP_NOT_PLACED,
        ("alert", "leg_failed"): EventKind.LEG_FAILURE,
        ("alert", "exit_failed"): EventKind.RISK_ALERT,
        ("unwind", None): EventKind.UNWIND,
    }
    for (kind, code), expected in cases.items():
        event = {"kind": kind, "account_id": "A1", "price": "88.5", "guard": "g1"}
        if code:
            event["code"] = code
        (made,) = from_execution_event(facts([]), REF, event, AT)
        assert made.kind is expected, kind
        assert made.uid == "u1"
    for quiet in ("risk_armed", "re_entry_waiting", "re_entry_expired"):
        assert from_execution_event(facts([]), REF, {"kind": quiet}, AT) == []


def test_a_missing_account_or_strategy_falls_back_to_ids():
    names = Facts(orders_of=lambda u, s: [], strategy_name=_missing, account_label=_missing)
    (made,) = from_execution_event(names, REF, {"kind": "trail", "account_id": "GONE"}, AT)
    assert made.fields["strategy"] == "S1" and made.fields["account"] == "GONE"


def _missing(*_):
    raise NotFound("gone")


def test_readiness_rows_become_one_urgent_event_per_user_account():
    summary = {
        "date": "2026-11-25",
        "not_ready": [
            {"uid": "u1", "account_id": "A1", "broker": "zerodha", "label": "Main",
             "action": "the session expired: log in again today"},
            {"uid": "u2", "account_id": "B7", "broker": "upstox", "label": "Wife"},
        ],
    }  # fmt: skip
    events = from_readiness(summary, "https://api.example.in/", AT)
    assert [(e.uid, e.kind, e.urgent) for e in events] == [
        ("u1", EventKind.ACCOUNT_NOT_READY, True), ("u2", EventKind.ACCOUNT_NOT_READY, True),
    ]  # fmt: skip
    text = render(events[0])
    assert "Log in: https://api.example.in/accounts/A1/login" in text
    assert from_readiness(summary, "x", AT)[0].key == events[0].key
    assert from_readiness({"date": "2026-11-26", **{"not_ready": summary["not_ready"]}}, "x",
                          AT)[0].key != events[0].key  # fmt: skip
    assert from_readiness({"error": "instrument refresh failed"}, "x", AT) == []


def test_an_order_sent_more_than_a_second_late_makes_the_message_urgent():
    late = order("o1", "COMPLETE", filled=75, avg="100")
    late.sent_at = "2026-11-25T09:20:01.250+05:30"
    settled = {"kind": "settled", "status": "COMPLETE"}
    (event,) = from_execution_event(facts([late]), REF, settled, AT)
    assert event.urgent and "engine late: an order left T+1250 ms" in render(event)
    (on_time,) = from_execution_event(facts([order("o2", "COMPLETE", filled=75)]), REF, settled, AT)
    assert not on_time.urgent and "late" not in render(on_time)


def test_an_order_nobody_knows_the_fate_of_and_a_missed_entry_are_urgent_and_say_so():
    unknown = {"kind": "alert", "code": "order_outcome_unknown", "account_id": "A1",
               "order": "o1", "symbol": "NIFTY26D0124500CE", "message": "read timed out"}  # fmt: skip
    (made,) = from_execution_event(facts([]), REF, unknown, AT)
    assert made.kind is EventKind.ORDER_UNKNOWN and made.urgent
    text = render(made)
    assert text.startswith("URGENT: Order outcome unknown") and "NIFTY26D0124500CE" in text
    assert "read timed out" in text

    missed = {**unknown, "code": "entry_missed", "message": "not sent: more than 30 s after T"}
    (made,) = from_execution_event(facts([]), REF, missed, AT)
    assert made.kind is EventKind.ENTRY_MISSED and made.urgent
    assert "more than 30 s" in render(made)
