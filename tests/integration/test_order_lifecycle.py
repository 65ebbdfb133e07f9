"""The order lifecycle's store operations and the firer's isolation, on the emulator and the fake
brokers (issue #10: reproductions 3, 5, 7, 8 and the staleness rule)."""

from __future__ import annotations

import dataclasses
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from typing import Any

from chalicelib.adapters.dynamo.event_items import events_of
from chalicelib.adapters.dynamo.models import OrderItem
from chalicelib.adapters.dynamo.order_items import order_item
from chalicelib.domain import order_lifecycle as lc
from chalicelib.services.order_builder import ChildOrder
from tests.integration.slot_rig import (  # noqa: F401  (fixtures)
    EXIT_SLOT,
    SLOT,
    Trader,
    slot_clock_fixture,
    slot_fakes_fixture,
    trader_fixture,
)


def _child(tag: str, side: str = "BUY", quantity: int = 65) -> ChildOrder:
    from chalicelib.domain.instrument import ContractKey
    from chalicelib.domain.underlying import OptionType, Underlying

    key = ContractKey(Underlying.NIFTY, SLOT.date() + timedelta(days=6), Decimal(25000),
                      OptionType.CE)  # fmt: skip
    return ChildOrder(
        account_id="A1", broker="zerodha", leg=0, slice_no=0, side=side, key=key,
        exchange="NFO", lot_size=65, tick_size=Decimal("0.05"), quantity=quantity,
        limit_price=Decimal("100"), product="MIS", tag=tag,
    )  # fmt: skip


def _orders(container: Any, uid: str, n: int) -> list[OrderItem]:
    sk = f"EXEC#{SLOT.date()}#S1#ENTRY"
    items = [
        order_item(uid, sk, "S1", "ENTRY", _child(f"T{i}"), SLOT, order_id=f"o{i}")
        for i in range(n)
    ]
    for item in items:
        item.status, item.filled_quantity, item.average_price = lc.COMPLETE, 65, "100"
    container.executions.put_orders(items)
    return items


def test_concurrent_fills_of_one_contract_all_reach_the_position(container):
    """Reproduction 3: a version conflict on the position was read as "already applied" and the
    fill was dropped (platform 0, broker +65). Conflicts are now retried with the position
    re-read; each order still applies exactly once."""
    uid = uuid.uuid4().hex
    orders = _orders(container, uid, 8)

    def apply(order: OrderItem) -> bool:
        return container.executions.apply_fill(order, "NIFTY-X", {}, 65, Decimal("100"))

    with ThreadPoolExecutor(max_workers=8) as pool:
        applied = list(pool.map(apply, orders))

    assert applied == [True] * 8
    [position] = container.executions.positions(uid, "S1", consistent=True)
    assert position.net_quantity == 8 * 65 and position.buy_value == str(Decimal(100) * 8 * 65)
    again = [apply(OrderItem.get(o.pk, o.sk, consistent_read=True)) for o in orders]
    assert again == [False] * 8  # exactly once per order
    [position] = container.executions.positions(uid, "S1", consistent=True)
    assert position.net_quantity == 8 * 65


def test_the_gate_and_the_claim_are_idempotent_for_their_owner(container):
    """Reproduction 8: a retried conditional write found its own item and dropped the entry."""
    uid = uuid.uuid4().hex
    store = container.executions
    day = SLOT.date().isoformat()
    gate = store.open_execution(uid, day, "S1", "ENTRY", SLOT.isoformat(), "clock", token="t1")
    assert gate is not None
    retried = store.open_execution(uid, day, "S1", "ENTRY", SLOT.isoformat(), "clock", token="t1")
    assert retried is not None and retried.sk == gate.sk  # our own write: continue
    assert (
        store.open_execution(uid, day, "S1", "ENTRY", SLOT.isoformat(), "clock", token="t2") is None
    )

    [order] = _orders(container, uid, 1)
    order.status = lc.BUILT
    store.save_order(order)
    assert store.claim_order(order, "f1", SLOT.isoformat())
    assert store.claim_order(order, "f1", SLOT.isoformat())  # the retried claim continues
    other = OrderItem.get(order.pk, order.sk, consistent_read=True)
    assert not store.claim_order(other, "f2", SLOT.isoformat())  # another firer: skip


def test_orders_can_be_listed_by_every_lifecycle_state(client, trader: Trader):
    """Reproduction 7: GET /orders?status=SENDING answered 400."""
    for status in ("SENDING", "UNKNOWN", "MISSED", "PARTIAL", "sending"):
        response = trader.api.call("GET", f"/orders?date={SLOT.date()}&status={status}")
        assert response.status_code == 200, response.body
    assert trader.api.call("GET", "/orders?status=LOST").status_code == 400


def test_a_malformed_2xx_reply_is_looked_up_and_the_batch_goes_on(trader: Trader):
    """Reproduction 5: Kite's 2xx body without data.order_id aborted the whole batch."""
    entry = trader.plan(SLOT)
    kite = trader.client_ids[trader.accounts["zerodha"]]
    trader.servers["kite"].inject(kite, "malformed_reply")  # the first order request
    trader.at(SLOT - timedelta(milliseconds=50))

    counts = trader.engine.firer.fire(entry.orders)

    assert counts["sent"] == 7 and counts["failed"] == 0
    stored = {o.tag: o for o in trader.orders()}
    assert {o.status for o in stored.values()} == {lc.OPEN}
    assert all(n == 1 for n in trader.broker_tags().values())


class Exploding:
    """A broker port that fails unexpectedly for one tag: before the request (a storage error
    in the rate limiter) or after it left (a reply the code cannot handle)."""

    def __init__(self, inner: Any, tag: str, after_send: bool) -> None:
        self.inner, self.tag, self.after_send = inner, tag, after_send

    def place(self, request: Any) -> Any:
        if request.tag != self.tag:
            return self.inner.place(request)
        if self.after_send:
            self.inner.place(request)
        raise RuntimeError("ProvisionedThroughputExceededException in the limiter")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_an_unexpected_error_makes_that_order_unknown_and_the_others_still_go(trader: Trader):
    """Reproduction 5 / 8: one exception aborted the batch; nothing was recorded for anyone and
    the account's remaining legs were never sent. Now: that order UNKNOWN, every other order
    sent and recorded; the recovery sweep then finds the truth by tag."""
    entry = trader.plan(SLOT)
    engine = trader.engine
    first = {}
    for o in sorted(entry.orders, key=lambda o: (o.request["side"] != "BUY", o.request["leg"])):
        first.setdefault(o.account_id, o.tag)
    kite, noren = trader.accounts["zerodha"], trader.accounts["shoonya"]

    def adapter_for(uid: str, account_id: str) -> Any:
        inner = engine.broker_access.adapter(uid, account_id)
        return Exploding(inner, first[account_id], after_send=account_id == noren)

    firer = dataclasses.replace(engine.firer, adapter_for=adapter_for, before_send=None)
    trader.at(SLOT - timedelta(milliseconds=50))
    counts = firer.fire(entry.orders)

    assert counts == {"sent": 5, "failed": 0, "skipped": 0, "unknown": 2}
    stored = {(o.account_id, o.tag): o for o in trader.orders()}
    assert stored[(kite, first[kite])].status == lc.UNKNOWN
    assert stored[(noren, first[noren])].status == lc.UNKNOWN
    assert sum(o.status == lc.OPEN for o in stored.values()) == 5
    told = [e for e in events_of(trader.uid, entry.execution_sk) if e.get("kind") == "alert"]
    assert sorted(e["code"] for e in told) == ["order_outcome_unknown"] * 2  # the trader is told

    trader.at(SLOT + timedelta(seconds=40))
    report = engine.recovery.sweep(users=[trader.uid])

    assert report.found == 1 and report.never_sent == 1
    stored = {(o.account_id, o.tag): o for o in trader.orders()}
    assert stored[(kite, first[kite])].status == lc.FAILED  # the limiter failed: never left
    assert stored[(noren, first[noren])].broker_order_id  # it left: found by its tag
    assert all(n == 1 for n in trader.broker_tags().values())
    assert trader.platform_positions() == trader.broker_positions()


def test_an_entry_too_late_is_missed_and_an_exit_is_sent_however_late(trader: Trader):
    entry = trader.plan(SLOT)
    trader.at(SLOT + timedelta(seconds=121))  # the strategy allows 120 s

    counts = trader.engine.firer.fire(entry.orders)

    assert counts == {"sent": 0, "failed": 0, "skipped": 0, "missed": 7}
    assert {o.status for o in trader.orders()} == {lc.MISSED}
    assert trader.broker_tags() == {}
    assert all("120 s" in o.error["message"] for o in trader.orders())
    told = [e for e in events_of(trader.uid, entry.execution_sk) if e.get("kind") == "alert"]
    assert [e["code"] for e in told] == ["entry_missed"] * 7


def test_an_exit_is_sent_however_late(trader: Trader):
    entry = trader.plan(SLOT)
    trader.at(SLOT - timedelta(milliseconds=50))
    assert trader.engine.firer.fire(entry.orders)["sent"] == 7
    trader.engine.settlement.settle(trader.uid, entry.execution_sk)
    exit_ = trader.plan(EXIT_SLOT)
    trader.at(EXIT_SLOT + timedelta(minutes=10))  # far beyond any entry's allowed delay

    assert trader.engine.firer.fire(exit_.orders)["sent"] == 7
    exits = [o for o in trader.orders() if o.phase == "EXIT"]
    assert len(exits) == 7 and all(o.broker_order_id for o in exits)
    at_broker = trader.broker_tags()
    assert all(at_broker[(trader.client_ids[o.account_id], o.tag)] == 1 for o in exits)


def test_one_broken_schedule_item_does_not_stop_the_tick_for_others(trader: Trader):
    """Reproduction 8: an unexpected error planning one strategy aborted the whole slot."""
    from chalicelib.adapters.dynamo.models import ScheduleItem

    broken = ScheduleItem(
        *ScheduleItem.key("someone-else", "S-broken", "ENTRY", "WED"),
        gsi2pk=ScheduleItem.slot_key("WED", "0920", 0),
        gsi2sk="someone-else#S-broken#",
        uid="someone-else",
        strategy_id="S-broken",
        phase="ENTRY",
        fire_time="09:20:xx",  # unreadable: raises while planning that one item
        payload={"accounts": {}},
        strategy_version=1,
    )
    broken.save()
    try:
        trader.clock.set(SLOT - timedelta(seconds=20))
        plan = trader.engine.planner.plan(SLOT)
    finally:
        broken.delete()
    [mine] = [e for e in plan.executions if e.uid == trader.uid]
    assert len(mine.orders) == 7 and plan.stats["failed"] >= 1


def test_a_transient_quote_failure_is_retried_before_the_entry_is_skipped(trader: Trader):
    """Reproduction 8: a transient quote failure marked the entry SKIPPED with no retry."""
    kite = trader.client_ids[trader.accounts["zerodha"]]
    trader.servers["kite"].inject(kite, "server_error", count=3, status=503)  # one whole fetch

    # From T-1 min, as the scheduler starts a tick: the retries then have their whole window even
    # when a loaded machine makes the first pass slow (from T-20 s it once had none left).
    entry = trader.plan(SLOT, lead=timedelta(minutes=1))

    assert len(entry.orders) == 7, entry.errors
    stored = trader.engine.executions.get_execution(trader.uid, entry.execution_sk)
    assert stored.status == "PLANNED"


def test_a_skipped_entry_says_why(trader: Trader):
    kite = trader.client_ids[trader.accounts["zerodha"]]
    trader.servers["kite"].inject(kite, "server_error", count=1000, status=503)

    entry = trader.plan(SLOT)

    assert entry.orders == []
    stored = trader.engine.executions.get_execution(trader.uid, entry.execution_sk)
    assert stored.status == "SKIPPED"
    assert stored.summary["reason"].startswith("quotes_unavailable")
    assert "attempts" in stored.summary["reason"]


def test_a_broken_exit_guard_holds_the_exit_back_and_recovery_resends_it_through_the_guard(
    trader: Trader,
):
    """The hook that trims exits to what is held raised something unexpected: the exit used to go
    out untrimmed (a position a stop had closed would be reversed). Now it stays claimed and
    unsent, with an alert, and the recovery sweep resends it once through the working guard."""
    entry = trader.plan(SLOT)
    trader.at(SLOT - timedelta(milliseconds=50))
    assert trader.engine.firer.fire(entry.orders)["sent"] == 7
    trader.engine.settlement.settle(trader.uid, entry.execution_sk)
    held = trader.platform_positions()
    assert held and held == trader.broker_positions()
    exit_ = trader.plan(EXIT_SLOT)

    def broken(orders, requests, adapter):
        raise RuntimeError("guard bug")

    firer = dataclasses.replace(trader.engine.firer, before_send=broken)
    trader.at(EXIT_SLOT - timedelta(milliseconds=50))
    firer.fire(exit_.orders)

    exits = [o for o in trader.orders() if o.phase == "EXIT"]
    assert {o.status for o in exits} == {lc.CLAIMED} and not any(o.broker_order_id for o in exits)
    assert trader.broker_positions() == held  # nothing left for the broker
    told = [e for e in events_of(trader.uid, exit_.execution_sk) if e.get("kind") == "alert"]
    assert {e["code"] for e in told} == {"closing_held_back"} and len(told) == 7

    trader.at(EXIT_SLOT + timedelta(seconds=40))
    trader.engine.recovery.sweep(users=[trader.uid])
    trader.at(EXIT_SLOT + timedelta(seconds=65))  # resent 60 s after the slot
    trader.engine.recovery.sweep(users=[trader.uid])

    assert trader.platform_positions() == {} == trader.broker_positions()
    assert all(n == 1 for n in trader.broker_tags().values())
