"""Fills reach positions exactly once per fill (issue #10, Deliver 1): a fill is the broker's
cumulative filled quantity of one order id (``<broker order id>:<quantity>``), applied in one
transaction with the order's applied level. Partial fills arriving in several passes each add
once; a replayed or stale status adds nothing; a version conflict on the position is retried,
never assumed applied."""

from __future__ import annotations

import dataclasses
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from typing import Any

from chalicelib.adapters.dynamo.models import OrderItem
from chalicelib.adapters.dynamo.order_items import order_item
from chalicelib.domain import order_lifecycle as lc
from chalicelib.services.settlement import Backoff
from tests.integration.slot_rig import (  # noqa: F401  (fixtures)
    SLOT,
    Trader,
    slot_clock_fixture,
    slot_fakes_fixture,
    trader_fixture,
)
from tests.integration.test_order_lifecycle import _child


def _order(container: Any, uid: str, order_id: str, status: str = lc.OPEN) -> OrderItem:
    sk = f"EXEC#{SLOT.date()}#S1#ENTRY"
    item = order_item(uid, sk, "S1", "ENTRY", _child(f"T{order_id}", quantity=195), SLOT,
                      order_id=order_id)  # fmt: skip
    item.status, item.broker_order_id = status, f"B{order_id}"
    container.executions.put_orders([item])
    return item


def _stored(order: OrderItem) -> OrderItem:
    return OrderItem.get(order.pk, order.sk, consistent_read=True)


def _position(container: Any, uid: str) -> tuple[int, Decimal]:
    [position] = container.executions.positions(uid, "S1", consistent=True)
    return int(position.net_quantity), Decimal(position.buy_value)


def test_partial_fills_in_several_passes_each_apply_once_and_replays_add_nothing(container):
    uid = uuid.uuid4().hex
    store = container.executions
    order = _order(container, uid, "p1")
    first_pass, stale = _stored(order), _stored(order)

    first_pass.status = lc.PARTIAL
    assert store.apply_fill(first_pass, "NIFTY-X", {}, 65, Decimal("100"))
    assert _position(container, uid) == (65, Decimal(6500))

    later = _stored(order)  # a later pass: 130 filled at an average of 101
    later.status = lc.PARTIAL
    assert store.apply_fill(later, "NIFTY-X", {}, 130, Decimal("101"))
    assert _position(container, uid) == (130, Decimal(13130))

    # replays: the first pass's status again (a retried poll), and a stale copy of the order
    assert not store.apply_fill(first_pass, "NIFTY-X", {}, 65, Decimal("100"))
    stale.status = lc.PARTIAL
    assert not store.apply_fill(stale, "NIFTY-X", {}, 65, Decimal("100"))
    assert not store.apply_fill(_stored(order), "NIFTY-X", {}, 130, Decimal("101"))
    assert _position(container, uid) == (130, Decimal(13130))

    final = _stored(order)  # the last fill, then the order ends
    final.status = lc.COMPLETE
    assert store.apply_fill(final, "NIFTY-X", {}, 195, Decimal("102"))
    assert _position(container, uid) == (195, Decimal(19890))  # 195 x 102, to the paisa
    stored = _stored(order)
    assert stored.status == lc.COMPLETE and stored.applied == 1
    assert stored.applied_quantity == 195 and stored.filled_quantity == 195
    assert [f["id"] for f in stored.fills] == ["Bp1:65", "Bp1:130", "Bp1:195"]
    assert [f["quantity"] for f in stored.fills] == [65, 65, 65]
    # a stale status never takes a fill back, nor reopens a finished order
    stale.status = lc.PARTIAL
    assert not store.apply_fill(stale, "NIFTY-X", {}, 130, Decimal("101"))
    assert not store.record_status(stale)
    assert _stored(order).filled_quantity == 195 and _stored(order).status == lc.COMPLETE


def test_a_version_conflict_is_retried_never_assumed_applied(container):
    """Another order's fill of the same contract lands between our read of the position and
    our write (injected at the read): the transaction fails on the position's version; the
    fill is re-read and retried, and both fills end in the position once."""
    uid = uuid.uuid4().hex
    store = container.executions
    ours, theirs = _order(container, uid, "c1"), _order(container, uid, "c2")
    read = store._position
    injected = []

    def read_then_someone_writes(order: OrderItem, symbol: str, contract: dict) -> Any:
        position = read(order, symbol, contract)
        if not injected:
            injected.append(True)
            other = _stored(theirs)
            other.status = lc.PARTIAL
            assert store.apply_fill(other, symbol, contract, 65, Decimal("99"))
        return position

    store._position = read_then_someone_writes  # type: ignore[method-assign]
    try:
        mine = _stored(ours)
        mine.status = lc.COMPLETE
        assert store.apply_fill(mine, "NIFTY-X", {}, 195, Decimal("100"))
    finally:
        del store._position
    assert injected
    assert _position(container, uid) == (260, Decimal(19500 + 6435))
    assert [f["id"] for f in _stored(ours).fills] == ["Bc1:195"]


def test_concurrent_settlers_apply_one_fill_once(container):
    """Eight settlers with their own copies of one order see the same fills at once."""
    uid = uuid.uuid4().hex
    store = container.executions
    order = _order(container, uid, "k1")

    def apply(level: int) -> bool:
        copy = _stored(order)
        copy.status = lc.PARTIAL if level < 195 else lc.COMPLETE
        return store.apply_fill(copy, "NIFTY-X", {}, level, Decimal("100"))

    with ThreadPoolExecutor(max_workers=8) as pool:
        applied = list(pool.map(apply, [65, 65, 130, 130, 195, 195, 65, 130]))

    assert applied.count(True) <= 3 and any(applied)
    stored = _stored(order)
    assert stored.applied_quantity == 195 and stored.status == lc.COMPLETE
    assert sum(f["quantity"] for f in stored.fills) == 195
    assert _position(container, uid) == (195, Decimal(19500))


def test_a_resting_partial_fill_is_held_and_the_rest_added_by_a_later_sweep(trader: Trader):
    """Through the fake broker: the entry fills part of a leg, the platform holds what the broker
    holds; the rest fills later and a recovery sweep (a new process) adds only the rest."""
    entry = trader.plan(SLOT)
    noren = trader.client_ids[trader.accounts["shoonya"]]  # two lots a leg there
    trader.servers["noren"].inject(noren, "partial_fill", ratio=0.5, hold=20)
    trader.at(SLOT - timedelta(milliseconds=50))
    assert trader.engine.firer.fire(entry.orders)["sent"] == 7

    one_poll = dataclasses.replace(trader.engine.settlement, backoff=Backoff(deadline=0))
    one_poll.reconcile(trader.uid, trader.orders(), give_up=False)
    partial = [o for o in trader.orders() if o.status == lc.PARTIAL]
    assert len(partial) == 1 and 0 < partial[0].filled_quantity < partial[0].request["quantity"]
    assert trader.platform_positions() == trader.broker_positions()

    engine = trader.restart()
    trader.at(SLOT + timedelta(seconds=45))  # the hold is over: the rest fills
    engine.recovery.sweep(users=[trader.uid])
    engine.recovery.sweep(users=[trader.uid])  # a second sweep adds nothing

    [done] = [o for o in trader.orders() if o.order_id == partial[0].order_id]
    assert done.status == lc.COMPLETE and done.applied_quantity == done.filled_quantity
    assert len(done.fills) == 2 and sum(f["quantity"] for f in done.fills) == done.filled_quantity
    assert trader.platform_positions() == trader.broker_positions()


def test_a_kill_switch_adopts_the_fill_of_an_order_recorded_never_sent(trader: Trader):
    """An entry leg that did reach the broker was recorded FAILED (a guess of "never sent"):
    the kill switch finds its tag in the order book, records it acknowledged (the broker's word
    wins), applies its fill once and closes exactly what is held: flat at both ends."""
    from tests.integration.test_order_lifecycle import Exploding

    entry = trader.plan(SLOT)
    engine = trader.engine
    noren = trader.accounts["shoonya"]
    [lost] = [o for o in entry.orders if o.account_id == noren and o.request["side"] == "BUY"][:1]

    def adapter_for(uid: str, account_id: str) -> Any:
        inner = engine.broker_access.adapter(uid, account_id)
        return Exploding(inner, lost.tag, after_send=True) if account_id == noren else inner

    firer = dataclasses.replace(engine.firer, adapter_for=adapter_for, before_send=None)
    trader.at(SLOT - timedelta(milliseconds=50))
    assert firer.fire(entry.orders)["unknown"] == 1
    [stored] = [o for o in trader.orders() if o.order_id == lost.order_id]
    error = {"kind": "never_sent", "code": "never_sent", "message": "a wrong guess"}
    assert engine.executions.record_failed(stored, lc.FAILED, error, at=SLOT.isoformat())

    trader.at(SLOT + timedelta(seconds=10))
    switch = engine.kill_switch
    item, _ = switch.engage(trader.uid, "strategy", trader.strategy_id, who="test")
    moment = SLOT + timedelta(seconds=10)
    for _ in range(6):
        item = switch.drive(item, moment).item
        if item.status == "FLAT":
            break
        moment += timedelta(seconds=100)
        trader.at(moment)

    assert item.status == "FLAT"
    [adopted] = [o for o in trader.orders() if o.order_id == lost.order_id]
    assert adopted.status == lc.COMPLETE and adopted.applied_quantity == adopted.filled_quantity > 0
    assert all(n == 1 for n in trader.broker_tags().values())
    assert trader.platform_positions() == trader.broker_positions() == {}
