"""Account day limits on in-memory stores: judged on the whole priced book only, squared off
through the account's kill switch, marked once for the day, released once flat."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from chalicelib.domain.day_limits import DAY_LIMIT_ACTOR
from chalicelib.domain.kill_switch import FLAT
from chalicelib.domain.notifications import EventKind, NotificationEvent
from chalicelib.services.day_limits import DayLimits
from tests.fakes.records import Account
from tests.unit.engine.kill_switch_rig import DAY, KEY, UID, Rig, rig


@dataclass
class Limits:
    rig: Rig
    service: DayLimits
    told: list[NotificationEvent] = field(default_factory=list)


def limits(loss: str | None = "1000", profit: str | None = None, accounts=("A1",)) -> Limits:
    r = rig(accounts)
    for account in accounts:
        r.targets.accounts[(UID, account)].daily_loss_limit = loss
        r.targets.accounts[(UID, account)].daily_profit_target = profit
    told: list[NotificationEvent] = []
    service = DayLimits(r.targets, r.orders, r.closer, r.switch, r.clock, notify=told.append)
    return Limits(r, service, told)


def last_price(lim: Limits, price: str, account_id: str = "A1") -> None:
    lim.rig.closer.quotes[(account_id, KEY)] = Decimal(price)


def account(lim: Limits, account_id: str = "A1") -> Account:
    return lim.rig.targets.accounts[(UID, account_id)]


def test_a_loss_past_the_limit_squares_the_account_off_and_marks_it_for_the_day():
    lim = limits(loss="1000")
    lim.rig.hold("A1", -65, price="100")
    last_price(lim, "120")  # -1,300
    figures = lim.service.check()
    assert figures == {"accounts": 1, "reached": 1, "released": 0, "failed": 0}
    switch = lim.rig.store.get(UID, "account", "A1")
    assert switch.engaged_by == DAY_LIMIT_ACTOR and switch.status == FLAT
    assert lim.rig.bought() == 65
    mark = account(lim).day_limit
    assert mark["date"] == DAY and mark["kind"] == "LOSS" and mark["pnl"] == "-1300.00"
    assert mark["operation_id"] == switch.operation_id
    (event,) = lim.told
    assert event.kind == EventKind.DAY_LIMIT_REACHED and event.fields["mtm"] == "-1300.00"
    assert "daily loss limit" in (lim.service.blocks(UID, "A1") or "")
    tomorrow = (lim.rig.clock() + timedelta(days=1)).date().isoformat()
    assert lim.service.blocks(UID, "A1", tomorrow) is None


def test_inside_both_limits_nothing_happens():
    lim = limits(loss="1000", profit="5000")
    lim.rig.hold("A1", -65, price="100")  # priced at 100: P&L 0
    assert lim.service.check()["reached"] == 0
    assert lim.rig.store.items == {} and account(lim).day_limit is None and lim.told == []


def test_a_profit_target_is_a_limit_too():
    lim = limits(loss=None, profit="500")
    lim.rig.hold("A1", -65, price="100")
    last_price(lim, "90")  # +650
    lim.service.check()
    assert account(lim).day_limit["kind"] == "PROFIT"


def test_a_book_with_an_unpriced_open_position_is_not_judged():
    """Half a book can look like a loss: no limit fires until every open position is priced."""
    lim = limits(loss="1")
    lim.rig.hold("A1", -65, price="100")
    lim.rig.closer.quotes.clear()
    assert lim.service.check()["reached"] == 0
    assert lim.rig.store.items == {}


def test_positions_of_earlier_days_do_not_count():
    lim = limits(loss="1000")
    lim.rig.hold("A1", -65, price="100")
    for position in lim.rig.orders.held.values():
        position.updated_at = "2026-11-24T15:00:00.000+05:30"
    last_price(lim, "200")
    pnl = lim.service.day_pnl(UID, "A1", lim.rig.orders.positions(UID), lim.rig.clock())
    assert pnl == 0


def test_the_mark_survives_a_concurrent_edit_of_the_account():
    lim = limits(loss="1000")
    lim.rig.hold("A1", -65, price="100")
    last_price(lim, "120")
    edits: list[Any] = []

    def patch_races(_: Account) -> None:  # the trader's PATCH lands first, once
        if not edits:
            stored = account(lim)
            stored.label, stored.version = "renamed", int(stored.version or 0) + 1
            edits.append(stored.version)

    lim.rig.targets.before_save = patch_races
    lim.service.check()
    assert account(lim).label == "renamed" and account(lim).day_limit["kind"] == "LOSS"


def test_an_account_already_marked_today_is_not_judged_again():
    lim = limits(loss="1000")
    lim.rig.hold("A1", -65, price="100")
    last_price(lim, "120")
    lim.service.check()
    lim.rig.hold("A1", -65, price="100")  # held again (by hand, at the broker's side)
    assert lim.service.check()["accounts"] == 0
    assert len(lim.told) == 1


def test_the_day_limit_switch_is_released_once_flat_but_a_traders_switch_stays():
    lim = limits(loss="1000", accounts=("A1", "A2"))
    lim.rig.hold("A1", -65, price="100")
    last_price(lim, "120")
    lim.service.check()
    lim.rig.switch.engage(UID, "account", "A2", who=UID, reason="mine")
    account(lim, "A2").day_limit = {"date": DAY, "message": "marked by hand"}
    figures = lim.service.check()
    assert figures["released"] == 1
    assert lim.rig.store.get(UID, "account", "A1") is None  # entries stay refused by the mark
    assert lim.service.blocks(UID, "A1")
    assert lim.rig.store.get(UID, "account", "A2") is not None


def test_one_users_failure_does_not_stop_the_others():
    lim = limits(loss="1000")
    lim.rig.targets.add_account("u2", "B1", daily_loss_limit="1000")

    def broken(uid: str, *_: Any, **__: Any) -> list[Any]:
        if uid == "u2":
            raise RuntimeError("throttled")
        return []

    lim.service.positions = type("P", (), {"positions": staticmethod(broken)})()
    assert lim.service.check() == {"accounts": 1, "reached": 0, "released": 0, "failed": 1}
