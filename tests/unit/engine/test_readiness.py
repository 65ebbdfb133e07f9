"""Pre-market readiness over the in-memory account store: at 08:30 on a trading day every
account whose session does not outlive today's F&O close is listed with the action to take; on a
holiday nothing is listed (nobody is told to log in for a closed market)."""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.domain.calendar import IST
from chalicelib.services.readiness import Readiness
from tests.fakes.accounts import FakeCipher, MemoryAccounts

MORNING = datetime(2026, 11, 25, 8, 30, tzinfo=IST)  # a Wednesday, a trading day
CHRISTMAS = datetime(2026, 12, 25, 8, 30, tzinfo=IST)


def _store() -> MemoryAccounts:
    store = MemoryAccounts(clock=lambda: MORNING)
    for uid, account_id, broker in (("u1", "A1", "zerodha"), ("u1", "A2", "angelone"),
                                    ("u2", "B1", "upstox")):  # fmt: skip
        store.create_account(uid, account_id, broker=broker, client_id=account_id, label=account_id,
                             static_ip_note=None, secret_blob=None, quote_account_id=None)  # fmt: skip
    sealed = FakeCipher().seal({"access_token": "t"}, owner="u1")
    # logged in this morning: valid until 06:00 tomorrow, past today's close
    store.store_session("u1", "A1", broker="zerodha", sealed=sealed,
                        expires=datetime(2026, 11, 26, 6, 0, tzinfo=IST))  # fmt: skip
    # yesterday's login: ended at 05:00 today
    store.store_session("u2", "B1", broker="upstox", sealed=sealed,
                        expires=datetime(2026, 11, 25, 5, 0, tzinfo=IST))  # fmt: skip
    return store


def test_the_accounts_that_cannot_trade_today_are_listed_with_what_to_do():
    summary = Readiness(_store()).check(MORNING)

    assert summary["date"] == "2026-11-25" and summary["trading_day"] is True
    listed = {(a["uid"], a["account_id"]): a for a in summary["not_ready"]}
    assert summary["ready"] == 1 and len(listed) == 2
    assert ("u1", "A1") not in listed  # logged in today
    assert listed[("u1", "A2")]["action"].startswith("never logged in")
    assert listed[("u2", "B1")]["session"]["status"] == "EXPIRED"
    assert listed[("u2", "B1")]["action"] == "the session expired: log in again today"
    assert all(not a["usable_today"] and a["until"] is None for a in listed.values())


def test_on_a_holiday_nobody_is_told_to_log_in():
    summary = Readiness(_store()).check(CHRISTMAS)
    assert summary == {
        "date": "2026-12-25",
        "trading_day": False,
        "reason": summary["reason"],
        "not_ready": [],
    }
    assert "Christmas" in summary["reason"]


def test_the_day_is_the_ist_date_of_the_instant_given():
    early = datetime(2026, 11, 24, 20, 30, tzinfo=UTC)  # 02:00 IST on the 25th
    summary = Readiness(_store()).check(early)
    assert summary["date"] == "2026-11-25" and summary["trading_day"] is True
