"""Notification events, preferences and message text (pure)."""

from __future__ import annotations

from datetime import datetime

import pytest

from chalicelib.domain.calendar import IST
from chalicelib.domain.notification_text import MESSAGE_LIMIT, burst, render
from chalicelib.domain.notifications import (
    Channel,
    EventKind,
    NotificationEvent,
    Preferences,
    Urgency,
    idempotency_key,
    mask_client_id,
)

AT = datetime(2026, 11, 25, 9, 20, 0, 12000, tzinfo=IST)


def event(kind: EventKind = EventKind.ENTRY_DONE, **fields) -> NotificationEvent:
    return NotificationEvent("u1", kind, idempotency_key("u1", kind, fields), AT, fields)


def test_client_ids_are_masked():
    assert mask_client_id("AB1234") == "AB**34"
    assert mask_client_id("ZX98765432") == "ZX******32"
    assert mask_client_id("A12") == "***"


@pytest.mark.parametrize("name", ["access_token", "api_secret", "password", "totp", "bot_token"])
def test_an_event_refuses_fields_that_may_hold_a_secret(name):
    with pytest.raises(ValueError, match=name):
        event(**{name: "x"})
    with pytest.raises(ValueError, match=name):
        event(orders=[{"side": "BUY", name: "x"}])


def test_idempotency_key_is_the_fact_not_the_dict_order():
    assert idempotency_key("u", {"a": 1, "b": 2}) == idempotency_key("u", {"b": 2, "a": 1})
    assert idempotency_key("u", {"a": 1}) != idempotency_key("u", {"a": 2})


def test_urgent_kinds_are_urgent_whatever_the_caller_says():
    alert = NotificationEvent("u1", EventKind.STOP_NOT_PLACED, "k", AT, {}, Urgency.NORMAL)
    assert alert.urgent


def test_preferences_route_kinds_and_urgent_always_goes_everywhere():
    prefs = Preferences.from_dict({"entry_done": [], "stop_not_placed": []})
    assert prefs.channels_for(event()) == {Channel.IN_APP}  # in-app always keeps the history
    assert prefs.channels_for(event(EventKind.STOP_NOT_PLACED)) == set(Channel)
    # The default: in-app and Telegram; e-mail is opt-in per kind except for urgent events.
    assert prefs.channels_for(event(EventKind.TARGET_HIT)) == {Channel.IN_APP, Channel.TELEGRAM}
    chosen = Preferences.from_dict({"target_hit": ["email"]})
    assert chosen.channels_for(event(EventKind.TARGET_HIT)) == {Channel.IN_APP, Channel.EMAIL}
    assert Preferences.from_dict(prefs.to_dict()) == Preferences.from_dict(prefs.to_dict())
    assert prefs.to_dict()["entry_done"] == []


@pytest.mark.parametrize(
    ("doc", "message"),
    [({"nope": ["telegram"]}, "unknown event kind"), ({"entry_done": ["sms"]}, "channels are"),
     ({"entry_done": "telegram"}, "a list")],
)  # fmt: skip
def test_bad_preferences_name_the_problem(doc, message):
    with pytest.raises(ValueError, match=message):
        Preferences.from_dict(doc)


def test_render_entry_with_orders_fills_and_latency():
    text = render(
        event(
            strategy="NIFTY short iron condor", account="Main (zerodha AB**34)", status="COMPLETE",
            orders=[{"side": "SELL", "quantity": 75, "symbol": "NIFTY 24500 CE 2026-11-27",
                     "status": "COMPLETE", "filled": 75, "average_price": "101.35",
                     "latency_ms": 12}],
        )
    )  # fmt: skip
    assert text.splitlines()[0] == "Entry done"
    assert "Strategy: NIFTY short iron condor" in text
    assert "- SELL 75 NIFTY 24500 CE 2026-11-27: COMPLETE 75 @ 101.35 (T+12 ms)" in text
    assert text.endswith("09:20:00 IST")


def test_render_marks_urgent_and_shows_the_reason():
    text = render(event(EventKind.STOP_NOT_PLACED, reason="risk not armed"))
    assert text.startswith("URGENT: Stop-loss NOT placed\n")
    assert "Reason: risk not armed" in text


def test_burst_merges_in_order_and_stops_at_the_limit():
    text, taken = burst(["one", "two", "three"])
    assert taken == 3
    assert text == "3 updates\n\none\n\ntwo\n\nthree"
    assert burst(["solo"]) == ("solo", 1)
    big = ["x" * 2000, "y" * 2000, "z" * 2000]
    text, taken = burst(big)
    assert taken == 2 and len(text) <= MESSAGE_LIMIT
    huge, taken = burst(["w" * 10_000])
    assert taken == 1 and len(huge) <= MESSAGE_LIMIT
