"""Market reference endpoints and the strategy preview through the API."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.factories import four_leg_strategy

pytestmark = pytest.mark.ambient_time  # calendar and expiries default to today


def test_calendar_marks_holidays_and_sessions(user):
    response = user.call("GET", "/market/calendar?from=2026-11-23&to=2026-11-29")
    assert response.status_code == 200, response.body
    days = {d["date"]: d for d in response.data["days"]}
    assert days["2026-11-23"]["trading_day"] is True
    assert days["2026-11-23"]["session"] == {
        "open": "09:15:00",
        "close": "15:40:00",
        "kind": "normal",
    }
    assert days["2026-11-24"]["trading_day"] is False and days["2026-11-24"]["holiday"]
    assert days["2026-11-28"]["trading_day"] is False
    july = user.call("GET", "/market/calendar?from=2026-07-31&to=2026-07-31").data["days"][0]
    assert july["session"]["close"] == "15:30:00"
    assert user.call("GET", "/market/calendar?from=2026-12-01&to=2026-11-01").status_code == 400
    assert user.call("GET", "/market/calendar?from=2026-01-01&to=2027-12-31").status_code == 400
    assert user.call("GET", "/market/calendar?from=01-12-2026").data["error"]["field"] == "from"


def test_expiries_with_labels_and_the_tuesday_holiday_shift(user):
    response = user.call("GET", "/market/expiries?underlying=NIFTY&date=2026-11-20")
    assert response.status_code == 200, response.body
    listed = response.data["expiries"]
    assert listed[0]["date"] == "2026-11-23"  # Tue 24 Nov is a holiday: Monday
    assert "current_week" in listed[0]["labels"]
    assert any(e["kind"] == "monthly" for e in listed)
    sensex = user.call("GET", "/market/expiries?underlying=sensex&date=2026-11-20").data
    assert sensex["expiries"][0]["date"] == "2026-11-26"  # Thursday
    bad = user.call("GET", "/market/expiries?underlying=NIFTY50")
    assert bad.status_code == 400 and bad.data["error"]["field"] == "underlying"


def test_contract_specs(user):
    nifty = user.call("GET", "/market/contract?underlying=NIFTY&date=2026-11-25").data
    assert nifty["lot_size"] == 65 and nifty["freeze_qty"] == 1800
    assert nifty["max_lots_per_order"] == 27 and nifty["exchange"] == "NFO"
    assert nifty["tick_size"] == "0.05" and nifty["strike_step"] == "50"
    sensex = user.call("GET", "/market/contract?underlying=SENSEX&date=2026-11-25").data
    assert sensex["exchange"] == "BFO" and sensex["lot_size"] == 20
    explicit = user.call(
        "GET", "/market/contract?underlying=BANKNIFTY&date=2026-11-25&expiry=2026-12-29"
    )
    assert explicit.status_code == 200, explicit.body
    assert explicit.data["lot_size"] == 30 and explicit.data["freeze_qty"] == 600
    assert explicit.data["max_lots_per_order"] == 20 and explicit.data["strike_step"] == "100"


def test_preview_resolves_every_leg_on_every_account(setup):
    api = setup["api"]
    kite = api.call(
        "POST", "/accounts", {"broker": "zerodha", "client_id": "ZK1", "label": "Kite"}
    ).data["id"]
    noren = api.call(
        "POST", "/accounts", {"broker": "shoonya", "client_id": "FA1", "label": "S"}
    ).data["id"]
    body = four_leg_strategy(setup["basket"], kite, noren)
    body["legs"][0]["lots"] = 30  # 30 lots x 65 = 1950 units -> 1755 + 195 on the Kite account
    strategy = api.call("POST", "/strategies", body).data
    response = api.call(
        "GET", f"/strategies/{strategy['id']}/preview?at=2026-11-25T09:20:00%2B05:30"
    )
    assert response.status_code == 200, response.body
    preview = response.data
    assert preview["quotes"]["source"] == "synthetic" and preview["quotes"]["live"] is False
    assert preview["expiry"] == "2026-12-01" and preview["exchange"] == "NFO"
    assert preview["trading_day"] is True and preview["would_fire"] is True
    by_account = {a["account_id"]: a for a in preview["accounts"]}
    kite_legs = by_account[kite]["legs"]
    assert [leg["leg"] for leg in kite_legs] == [0, 1, 2, 3]
    first = kite_legs[0]
    assert first["quantity"] == 1950 and first["slices"] == [1755, 195]
    spot = Decimal(preview["spot"])
    strike = Decimal(first["strike"])
    assert strike > spot and strike % 50 == 0  # SELL CE ATM+2 is out of the money
    assert first["symbol"]["dialect"] == "kite" and first["symbol"]["symbol"].startswith(
        "NIFTY26D01"
    )
    assert Decimal(first["limit_price"]) % Decimal("0.05") == 0
    assert Decimal(first["limit_price"]) < Decimal(first["ltp"])  # a SELL is protected below LTP
    hedge = kite_legs[1]
    assert Decimal(hedge["limit_price"]) > Decimal(hedge["ltp"])  # a BUY is protected above
    noren_legs = by_account[noren]["legs"]
    assert [leg["leg"] for leg in noren_legs] == [0, 2, 3]
    assert noren_legs[0]["quantity"] == 3900  # multiplier 2
    assert noren_legs[0]["slices"] == [1755, 1755, 390]
    assert noren_legs[0]["symbol"]["symbol"].startswith("NIFTY01DEC26C")
    assert first["tag"] and len(first["tag"]) <= 20


def test_preview_on_a_holiday_says_it_would_not_fire(setup):
    api = setup["api"]
    strategy = api.call(
        "POST", "/strategies", four_leg_strategy(setup["basket"], setup["a1"], setup["a2"])
    ).data
    preview = api.call("GET", f"/strategies/{strategy['id']}/preview?at=2026-11-24T09:20:00").data
    assert preview["trading_day"] is False and preview["would_fire"] is False
    assert api.call("GET", f"/strategies/{strategy['id']}/preview?at=soon").status_code == 400


def test_preview_of_another_users_strategy_is_404(setup, other_user):
    api = setup["api"]
    strategy = api.call(
        "POST", "/strategies", four_leg_strategy(setup["basket"], setup["a1"], setup["a2"])
    ).data
    assert other_user.call("GET", f"/strategies/{strategy['id']}/preview").status_code == 404
