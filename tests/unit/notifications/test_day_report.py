"""The day report: realised P&L, fills, slippage against the limit, timing; and its message."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

from chalicelib.domain.calendar import IST
from chalicelib.domain.day_report import DayOrder, build, lines
from chalicelib.domain.notification_text import render
from chalicelib.domain.notifications import EventKind
from chalicelib.services.notifications.translate import Facts, account_label, from_day_report

T = datetime(2026, 11, 25, 9, 20, tzinfo=IST)


def o(phase, side, filled, avg, limit, contract="NIFTY 24500 CE", status="COMPLETE", ms=10,
      account="A1"):  # fmt: skip
    return DayOrder("IC", account, phase, side, contract, filled,
                    None if avg is None else Decimal(avg), Decimal(limit), status,
                    T, T + timedelta(milliseconds=ms))  # fmt: skip


def test_short_leg_round_trip_with_slippage_and_timing():
    rows = build([
        o("ENTRY", "SELL", 75, "100.00", "98.00", ms=12),  # sold 2.00 above the limit: better
        o("EXIT", "BUY", 75, "60.00", "61.00", ms=40),  # bought 1.00 under the limit: better
        o("ENTRY", "BUY", 0, None, "5.00", contract="NIFTY 24900 CE", status="REJECTED", ms=15),
    ])  # fmt: skip
    (row,) = rows
    assert row.realised == Decimal("3000.00")  # (100 - 60) x 75
    assert row.slippage == Decimal("-225.00")  # -(2 x 75) - (1 x 75)
    assert (row.fills, row.failed, row.open_quantity) == (2, 1, 0)
    assert row.latency_ms == {"ENTRY": 15, "EXIT": 40}


def test_unmatched_quantity_is_open_not_valued_and_accounts_are_separate():
    rows = build([
        o("ENTRY", "SELL", 150, "100", "99"),
        o("EXIT", "BUY", 75, "80", "81"),
        o("ENTRY", "BUY", 75, "10", "10.5", account="A2"),
    ])  # fmt: skip
    assert [(r.account, r.realised, r.open_quantity) for r in rows] == [
        ("A1", Decimal("1500.00"), 75), ("A2", Decimal("0.00"), 75),
    ]  # fmt: skip
    assert rows[1].slippage == Decimal("-37.50")


def test_lines_and_total():
    text = lines(build([o("ENTRY", "SELL", 75, "100", "98"), o("EXIT", "BUY", 75, "120", "121")]))
    assert text == [
        "IC / A1",
        "  realised -\u20b91,500.00; fills 2; failed 0",
        "  slippage vs limit -\u20b9225.00; open qty 0",
        "  timing: entry T+10 ms, exit T+10 ms",
        "Total realised -\u20b91,500.00",
    ]


def order_item(phase, side, filled, avg, limit, strategy="S1"):
    return SimpleNamespace(
        strategy_id=strategy, account_id="A1", phase=phase, status="COMPLETE",
        filled_quantity=filled, average_price=avg,
        scheduled_at="2026-11-25T09:20:00+05:30", sent_at="2026-11-25T09:20:00.009+05:30",
        request={"side": side, "underlying": "NIFTY", "expiry": "2026-11-27", "strike": "24500",
                 "option_type": "CE", "limit_price": limit, "quantity": filled},
    )  # fmt: skip


def test_the_day_report_message_of_a_user():
    facts = Facts(
        orders_of=lambda u, s: [],
        strategy_name=lambda u, s: "NIFTY short iron condor",
        account_label=lambda u, a: account_label("Main", "zerodha", "AB1234"),
        orders_on=lambda u, d: [order_item("ENTRY", "SELL", 75, "101.35", "99.80"),
                                order_item("EXIT", "BUY", 75, "62.10", "63.40")],
    )  # fmt: skip
    (event,) = from_day_report(facts, "u1", "2026-11-25", T.replace(hour=15, minute=45))
    assert event.kind is EventKind.DAY_REPORT
    assert event.key == from_day_report(facts, "u1", "2026-11-25", T)[0].key
    text = render(event)
    assert text.splitlines()[0] == "Day report"
    assert "NIFTY short iron condor / Main (zerodha AB**34)" in text
    assert "realised \u20b92,943.75" in text and "AB1234" not in text
    no_orders = Facts(orders_of=facts.orders_of, strategy_name=facts.strategy_name,
                      account_label=facts.account_label)  # fmt: skip
    assert from_day_report(no_orders, "u1", "2026-11-25", T) == []
