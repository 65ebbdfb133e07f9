"""The kill switch's decisions on in-memory stores: one operation per scope, one pass at a time,
withdraw what was not sent, close exactly what is held, and FLAT only when nothing is left."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.domain.kill_switch import ENGAGING, FLAT
from chalicelib.domain.strategy import ExitReason
from chalicelib.errors import NotFound, ValidationFailed
from chalicelib.ports.broker import OrderState, OrderStatus
from tests.fakes.records import Order
from tests.unit.engine.kill_switch_rig import DAY, UID, engage_and_drive, rig


# -- one operation per scope -------------------------------------------------------------------
def test_a_second_engage_on_the_same_scope_joins_the_operation():
    r = rig()
    first, created = r.switch.engage(UID, "account", "A1", who=UID)
    again, created_again = r.switch.engage(UID, "account", "A1", who="someone else")
    assert created and not created_again
    assert again.operation_id == first.operation_id and again.engaged_by == UID
    assert len(r.store.items) == 1 and r.store.writes == ["open"]


def test_a_switch_names_only_the_callers_own_account_or_strategy():
    r = rig()
    with pytest.raises(NotFound):
        r.switch.engage(UID, "account", "not-mine", who=UID)
    with pytest.raises(NotFound):
        r.switch.engage("u2", "strategy", "s1", who="u2")
    with pytest.raises(ValidationFailed):
        r.switch.engage(UID, "account", None, who=UID)
    with pytest.raises(ValidationFailed):
        r.switch.engage(UID, "basket", "b1", who=UID)
    assert r.store.items == {}


def test_entries_are_blocked_in_scope_only():
    r = rig()
    r.switch.engage(UID, "strategy", "s1", who=UID, reason="drill")
    assert "strategy s1" in (r.switch.blocks(UID, "s1", "A1") or "")
    assert r.switch.blocks(UID, "s2", "A1") is None
    assert r.switch.blocks("u2", "s1", "A1") is None


# -- a pass ------------------------------------------------------------------------------------
def test_the_first_pass_closes_exactly_what_is_held_and_only_then_is_flat():
    r = rig()
    r.hold("A1", -130)
    drive = engage_and_drive(r)
    assert drive.ran and drive.alert is None
    assert r.orders.net(UID) == {("s1", "A1", "NIFTY-2026-12-01-26000-CE"): 0}
    assert r.bought() == 130
    stored = r.store.get(UID, "all", None)
    assert stored.status == FLAT and stored.flat_at and stored.next_attempt_at is None
    assert [o["side"] for o in stored.summary["square_off"]] == ["BUY"]
    assert not r.store.engaging() and r.store.due("2099") == []


def test_nothing_held_is_flat_without_sending_anything():
    r = rig()
    drive = engage_and_drive(r)
    assert drive.item.status == FLAT and r.brokers["A1"].placed == []


def test_an_account_switch_leaves_other_accounts_alone():
    r = rig(("A1", "A2"))
    r.hold("A1", -65)
    r.hold("A2", -65)
    engage_and_drive(r, "account", "A2")
    net = r.orders.net(UID)
    assert net[("s1", "A1", "NIFTY-2026-12-01-26000-CE")] == -65
    assert net[("s1", "A2", "NIFTY-2026-12-01-26000-CE")] == 0


def test_entries_built_before_the_switch_are_withdrawn_and_exits_stay():
    r = rig()
    r.order("entry1")
    r.order("exit1", phase="EXIT")
    drive = engage_and_drive(r)
    assert r.orders.order(UID, "entry1").status == "CANCELLED"
    assert r.orders.order(UID, "entry1").error["code"] == "kill_switch"
    assert r.orders.order(UID, "exit1").status == "BUILT"
    assert drive.item.summary["withdrawn"] == ["entry1"] and drive.item.status == FLAT


def test_an_entry_the_firer_claimed_first_is_waited_for_not_called_flat():
    """The lost race: the firer claims the order between the pass's read and its withdrawal."""
    r = rig()
    r.order("entry1")

    def firer_claims(order: Order) -> None:
        r.orders.orders[(UID, "entry1")].status = "SENDING"

    r.orders.before["withdraw_unsent"] = firer_claims
    drive = engage_and_drive(r)
    assert drive.item.summary["withdrawn"] == []
    assert [b["code"] for b in drive.item.summary["blocked"]] == ["in_flight"]
    assert drive.item.status == ENGAGING
    assert drive.item.next_attempt_at == "2026-11-25T11:00:02.000+05:30"  # 2 s later


def test_a_partly_filled_square_off_is_finished_by_the_next_pass_never_overclosed():
    r = rig()
    r.hold("A1", -130)
    r.brokers["A1"].fill = "half"
    first = engage_and_drive(r)
    assert first.item.status == ENGAGING
    assert first.item.summary["open"] == [
        {"strategy_id": "s1", "account_id": "A1", "symbol": "NIFTY-2026-12-01-26000-CE",
         "net_quantity": -65}
    ]  # fmt: skip
    assert {b["code"] for b in first.item.summary["blocked"]} == {"in_flight"}
    r.brokers["A1"].fill = "full"
    r.clock.advance(2)
    (second,) = r.switch.drive_due()
    assert second.ran and second.item.status == FLAT
    assert r.bought() == 130  # the resting half was cancelled before the rest was bought
    assert second.item.summary["cancelled"]  # the first pass's remainder
    assert r.orders.net(UID)[("s1", "A1", "NIFTY-2026-12-01-26000-CE")] == 0


def test_a_broker_outage_keeps_retrying_with_backoff_and_alerts_once():
    r = rig()
    r.hold("A1", -65)
    r.brokers["A1"].down = True
    drives = [engage_and_drive(r)]
    for _ in range(3):
        r.clock.at = datetime.fromisoformat(r.store.get(UID, "all", None).next_attempt_at)
        drives += r.switch.drive_due()
    assert [d.item.attempts for d in drives] == [1, 2, 3, 4]
    assert [d.alert is not None for d in drives] == [False, False, True, False]
    stored = r.store.get(UID, "all", None)
    assert stored.alerted == 1 and stored.status == ENGAGING
    assert [e["kind"] for e in stored.events].count("alert") == 1
    assert {b["code"] for b in stored.summary["blocked"]} == {"broker_unavailable"}
    assert r.brokers["A1"].placed == []
    r.brokers["A1"].down = False
    r.clock.at = datetime.fromisoformat(stored.next_attempt_at)
    (last,) = r.switch.drive_due()
    assert last.item.status == FLAT and r.bought() == 65


def test_a_position_without_a_price_is_never_reported_flat():
    r = rig()
    r.hold("A1", -65)
    r.closer.quotes.clear()
    drive = engage_and_drive(r)
    assert drive.item.status == ENGAGING
    assert [e["code"] for e in drive.item.summary["errors"]] == ["no_price"]


def test_a_pair_another_closer_holds_is_left_for_the_next_pass():
    r = rig()
    r.hold("A1", -65)
    r.leases.take(UID, "s1", "A1", "exit:EXEC#x", r.clock().timestamp(), 30)
    drive = engage_and_drive(r)
    assert [b["code"] for b in drive.item.summary["blocked"]] == ["lease_busy"]
    assert r.brokers["A1"].placed == [] and drive.item.status == ENGAGING


def test_pairs_past_the_pass_budget_are_deferred():
    ticks = itertools.count(0, 5)
    r = rig(("A1", "A2"), budget=7.0, monotonic=lambda: float(next(ticks)))
    r.hold("A1", -65)
    r.hold("A2", -65)
    drive = engage_and_drive(r)
    assert [(b["account_id"], b["code"]) for b in drive.item.summary["blocked"]] == [
        ("A2", "deferred")
    ]
    assert r.orders.net(UID)[("s1", "A1", "NIFTY-2026-12-01-26000-CE")] == 0


def test_an_order_recorded_never_sent_that_the_broker_filled_counts_before_closing():
    """The exit was recorded FAILED (never sent) yet the broker filled it: its fill reaches the
    position first, so the switch finds nothing left and sends nothing (no double close)."""
    r = rig()
    r.hold("A1", -65)
    r.order("exit1", status="FAILED", phase="EXIT")
    r.orders.orders[(UID, "exit1")].request["side"] = "BUY"
    r.brokers["A1"].book["B-1"] = OrderState(
        "B-1", OrderStatus.COMPLETE, 65, 65, Decimal("101"), tag="exit1"
    )
    drive = engage_and_drive(r)
    assert r.orders.order(UID, "exit1").status == "COMPLETE"
    assert r.orders.order(UID, "exit1").broker_order_id == "B-1"
    assert r.orders.net(UID)[("s1", "A1", "NIFTY-2026-12-01-26000-CE")] == 0
    assert r.brokers["A1"].placed == [] and drive.item.status == FLAT


# -- one pass at a time, crashes and releases --------------------------------------------------
def test_a_pass_another_driver_holds_is_not_run_twice():
    r = rig()
    r.hold("A1", -65)
    item, _ = r.switch.engage(UID, "all", None, who=UID)
    other = r.store.get(UID, "all", None)
    assert r.store.claim_pass(other, r.clock().timestamp(), 90)
    skipped = r.switch.drive(item)
    assert not skipped.ran and r.brokers["A1"].placed == []
    r.clock.advance(91)  # that driver died before recording: its claim runs out
    assert r.switch.drive(item).ran and r.bought() == 65


def test_a_pass_that_fails_is_recorded_and_retried():
    r = rig()
    r.hold("A1", -65)

    def storage_fails(*_: Any) -> None:
        r.orders.before.clear()
        raise RuntimeError("throttled")

    r.orders.before["orders_on"] = storage_fails
    drive = engage_and_drive(r)
    assert drive.ran and drive.item.status == ENGAGING and drive.item.attempts == 1
    assert drive.item.summary["errors"][0]["code"] == "pass_failed"
    r.clock.advance(2)
    assert r.switch.drive_due()[0].item.status == FLAT


def test_a_pass_rerun_after_a_crash_reuses_its_kill_execution():
    """A crash after the square-off and before the record: the claim runs out, the same pass
    (same attempt) runs again; its orders join the KILL execution the first run created."""
    r = rig()
    r.hold("A1", -65)
    r.brokers["A1"].fill = "none"
    item, _ = r.switch.engage(UID, "all", None, who=UID)
    r.switch.run_pass(item, r.clock())  # ... and the process dies here
    r.brokers["A1"].fill = "full"
    r.switch.run_pass(item, r.clock())
    kill_runs = [sk for (_, sk) in r.orders.runs if "#KILL" in sk]
    assert len(kill_runs) == 1 and kill_runs[0].endswith("P1")
    assert {o.execution for o in r.closer.sent} == set(kill_runs)
    assert r.bought() == 65


def test_a_release_during_a_pass_wins_and_raises_no_alert():
    r = rig()
    r.hold("A1", -65)
    r.brokers["A1"].down = True
    item, _ = r.switch.engage(UID, "all", None, who=UID)
    item.attempts = 2  # the third pass would raise the alert
    r.store.items[(UID, "all", "ALL")].attempts = 2
    r.orders.before["orders_on"] = lambda *_: r.switch.release(UID, "all", None)
    drive = r.switch.drive(item)
    assert drive.ran and drive.alert is None and r.store.items == {}
    with pytest.raises(NotFound):
        r.switch.release(UID, "all", None)


def test_the_switch_freezes_the_risk_books_in_scope_first():
    @dataclass
    class Book:
        strategy_id: str

    @dataclass
    class Risk:
        frozen: list[tuple[Any, ...]] = field(default_factory=list)
        books: Any = None

        def freeze(self, *args: Any) -> None:
            self.frozen.append(args)

    risk = Risk()
    risk.books = type("Books", (), {"of_user": lambda self, uid, day: [Book("s1"), Book("s2")]})()
    r = rig(risk=risk)
    engage_and_drive(r, "strategy", "s1")
    assert risk.frozen == [(UID, DAY, "s1", ExitReason.KILL_SWITCH, None)]
    engage_and_drive(r, "account", "A1")
    assert risk.frozen[1:] == [
        (UID, DAY, "s1", ExitReason.KILL_SWITCH, "A1"),
        (UID, DAY, "s2", ExitReason.KILL_SWITCH, "A1"),
    ]
