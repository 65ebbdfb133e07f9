"""Account day limits on the simulated exchange: a loss past the account's limit squares the
account off through its kill switch (exactly the closing orders the fake broker receives), marks
it for the day, refuses its later entries with ``day_limit_reached`` and tells the trader; the
PATCH refuses bad limits naming the field. On an injected clock (passes at any date and hour)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from chalicelib.domain.calendar import IST
from chalicelib.services.clock import ShiftedClock
from chalicelib.services.closing import holding_of_position
from tests.integration.execution_rig import Rig, make_rig

DAY = datetime(2026, 11, 25, tzinfo=IST)  # a Wednesday and a trading day
ENTRY = DAY.replace(hour=9, minute=20)
LATER = DAY.replace(hour=10, minute=30)


@pytest.fixture
def rig(client, fakes, platform_clock: ShiftedClock) -> Rig:
    platform_clock.set(DAY.replace(hour=8, minute=50))
    return make_rig(client, fakes)


def _strategy(rig: Rig, at: str, side: str = "SELL") -> str:
    basket = rig.api.call("POST", "/baskets", {"name": "limits", "enabled": True}).data
    body = {
        "basket_id": basket["id"], "name": f"limits {at}", "underlying": "NIFTY",
        "expiry": "current_week", "product": "MIS",
        "entry": {"time": at, "days": ["WED"]}, "exit": {"time": "15:15:00"},
        "allocations": [{"account_id": rig.zerodha["id"], "multiplier": 1}],
        "legs": [{"side": side, "option_type": "CE", "strike": {"method": "ATM_OFFSET",
                                                              "value": 0}, "lots": 1}],
        "risk": {"margin_check": False},
    }  # fmt: skip
    created = rig.api.call("POST", "/strategies", body)
    assert created.status_code == 201, created.body
    return created.data["id"]


def _plan(rig: Rig, clock: ShiftedClock, slot: datetime, strategy_id: str):
    clock.set(slot - timedelta(seconds=20))
    [planned] = [
        e
        for e in rig.container.planner.plan(slot).executions
        if e.uid == rig.uid and e.strategy_id == strategy_id
    ]
    return planned


def test_patch_refuses_bad_limits_naming_the_field_and_null_clears(rig: Rig):
    path = f"/accounts/{rig.zerodha['id']}"
    for bad in (0, -5, "lots", 1.234, True):
        refused = rig.api.call("PATCH", path, {"daily_loss_limit": bad})
        assert refused.status_code == 400, (bad, refused.body)
        assert "daily_loss_limit" in refused.data["error"]["message"] + str(
            refused.data["error"].get("field", "")
        ), refused.body
    done = rig.api.call("PATCH", path, {"daily_loss_limit": 2500, "daily_profit_target": "4000.5"})
    assert done.status_code == 200, done.body
    assert done.data["daily_loss_limit"] == "2500" and done.data["daily_profit_target"] == "4000.5"
    label_only = rig.api.call("PATCH", path, {"label": "main"})  # absent limits are kept
    assert label_only.data["daily_loss_limit"] == "2500"
    plain = rig.api.call("PATCH", path, {"daily_profit_target": "1E+4"})  # stored plainly
    assert plain.status_code == 200 and plain.data["daily_profit_target"] == "10000"
    rig.api.call("PATCH", path, {"daily_profit_target": "4000.5"})
    cleared = rig.api.call("PATCH", path, {"daily_loss_limit": None})
    assert cleared.data["daily_loss_limit"] is None
    assert cleared.data["daily_profit_target"] == "4000.5"
    assert cleared.data["day_limit_reached"] is None


def test_a_loss_past_the_limit_squares_off_and_refuses_later_entries(
    rig: Rig, platform_clock: ShiftedClock
):
    clock = platform_clock
    first = _strategy(rig, "09:20:00")
    later = _strategy(rig, "10:30:00")
    entry = _plan(rig, clock, ENTRY, first)
    assert entry.errors == [] and len(entry.orders) == 1
    clock.set(ENTRY - timedelta(milliseconds=30))
    assert rig.container.firer.fire(entry.orders)["sent"] == 1
    assert rig.container.settlement.settle(rig.uid, entry.execution_sk).status == "COMPLETE"
    [short] = [p for p in rig.container.executions.positions(rig.uid, first) if p.net_quantity]
    key, lot = holding_of_position(short).key, -int(short.net_quantity)
    sold_at = Decimal(short.sell_value) / lot

    limit = rig.api.call("PATCH", f"/accounts/{rig.zerodha['id']}", {"daily_loss_limit": 1000})
    assert limit.status_code == 200, limit.body
    clock.set(DAY.replace(hour=10))
    limits = rig.container.day_limits
    assert limits.check(uids={rig.uid})["reached"] == 0  # inside the limit: nothing happens
    before = len(rig.exchange.orders(rig.zerodha["client_id"]))

    rig.exchange.set_price(key, sold_at + Decimal(40))  # a loss of 40 x lot > 1000
    figures = limits.check(uids={rig.uid})
    assert figures["reached"] == 1 and figures["failed"] == 0, figures

    closing = rig.exchange.orders(rig.zerodha["client_id"])[before:]
    assert [(o.side, o.quantity, o.key, o.status.value) for o in closing] == [
        ("BUY", lot, key, "COMPLETE")
    ]
    assert not [p for p in rig.container.executions.positions(rig.uid) if p.net_quantity]
    account = rig.api.call("GET", f"/accounts/{rig.zerodha['id']}").data
    mark = account["day_limit_reached"]
    assert mark["date"] == DAY.date().isoformat() and mark["kind"] == "LOSS"
    assert Decimal(mark["pnl"]) <= Decimal(-1000) and "daily loss limit" in mark["message"]

    # the switch found the account flat: released on the next check, the mark refuses entries
    assert limits.check(uids={rig.uid})["released"] == 1
    assert rig.api.call("GET", "/kill-switch").data["items"] == []
    refused = _plan(rig, clock, LATER, later)
    assert refused.orders == []
    assert [(e["code"], e["account_id"]) for e in refused.errors] == [
        ("day_limit_reached", rig.zerodha["id"])
    ]
    assert len(rig.exchange.orders(rig.zerodha["client_id"])) == before + 1  # nothing more sent
    assert limits.blocks(rig.uid, rig.zerodha["id"]) is not None
    tomorrow = (DAY + timedelta(days=1)).date().isoformat()
    assert limits.blocks(rig.uid, rig.zerodha["id"], tomorrow) is None  # a new day starts free

    assert rig.container.notifications.queue.drain(timeout=10)
    kinds = [n["kind"] for n in rig.api.call("GET", "/notifications").data["notifications"]]
    assert "day_limit_reached" in kinds, kinds
