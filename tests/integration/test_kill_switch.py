"""Kill switch against the sim's fake brokers: engaging cancels open orders, squares off open
positions with protected LIMIT orders, records who and when, and blocks entries (not exits)
until released."""

from __future__ import annotations

import pytest

from chalicelib.services.closing import canonical_symbol
from tests.integration.execution_rig import Rig, make_rig


@pytest.fixture
def rig(client, fakes) -> Rig:
    return make_rig(client, fakes)


def _open_book(rig: Rig):
    """A filled short on Zerodha, a filled long on Shoonya and a resting BUY on Shoonya."""
    short, wing = rig.contracts(2)
    execution = rig.execution()
    rig.send(execution, rig.child("zerodha", short, "SELL"))
    rig.send(execution, rig.child("shoonya", wing, "BUY", leg=1))
    resting = rig.send(execution, rig.resting("shoonya", short))
    rig.settlement().reconcile(
        rig.uid, rig.container.executions.orders_of_execution(rig.uid, execution.sk)
    )
    assert resting.status == "OPEN"
    return short, wing, resting


def test_engage_all_cancels_squares_off_and_blocks_until_released(rig: Rig):
    short, wing, resting = _open_book(rig)
    switch = rig.container.kill_switch
    assert switch.blocks(rig.uid, rig.strategy_id, rig.zerodha["id"]) is None

    item, created = switch.engage(rig.uid, "all", None, who="ops@example.in", reason="outage")
    assert created and item.status == "ENGAGING" and item.summary["square_off"] == []
    item = switch.drive(item).item

    assert item.status == "FLAT" and item.flat_at and item.attempts == 1, (
        item.summary["blocked"],
        item.summary["errors"],
    )
    assert item.engaged_by == "ops@example.in" and item.engaged_at.endswith("+05:30")
    assert item.summary["cancelled"] == [resting.order_id]
    [cancelled] = [
        o
        for o in rig.container.executions.orders_on(rig.uid, item.engaged_at[:10])
        if o.order_id == resting.order_id
    ]
    assert cancelled.status == "CANCELLED"
    sides = [(s["account_id"], s["side"], s["status"]) for s in item.summary["square_off"]]
    assert sorted(sides) == sorted(
        [(rig.zerodha["id"], "BUY", "COMPLETE"), (rig.shoonya["id"], "SELL", "COMPLETE")]
    )
    assert rig.positions() == {
        (rig.zerodha["id"], canonical_symbol(short.key)): 0,
        (rig.shoonya["id"], canonical_symbol(wing.key)): 0,
    }
    reason = switch.blocks(rig.uid, rig.strategy_id, rig.zerodha["id"])
    assert reason and "ops@example.in" in reason and "outage" in reason
    kills = [
        e
        for e in rig.container.executions.executions_on(rig.uid, item.engaged_at[:10])
        if e.phase.startswith("KILL")
    ]
    assert len(kills) == 1 and kills[0].status == "COMPLETE"
    again, created = switch.engage(rig.uid, "all", None, who="someone else")
    assert not created and again.operation_id == item.operation_id  # joins, squares off nothing
    assert switch.drive(again).ran is False

    switch.release(rig.uid, "all", None)
    assert switch.blocks(rig.uid, rig.strategy_id, rig.zerodha["id"]) is None


def test_account_scope_touches_only_that_account(rig: Rig):
    _, wing, _ = _open_book(rig)
    switch = rig.container.kill_switch

    item, _ = switch.engage(rig.uid, "account", rig.zerodha["id"], who=rig.uid)
    item = switch.drive(item).item

    assert (
        item.status == "FLAT" and item.summary["cancelled"] == []
    )  # the resting order is on Shoonya
    assert [s["account_id"] for s in item.summary["square_off"]] == [rig.zerodha["id"]]
    assert rig.positions()[(rig.shoonya["id"], canonical_symbol(wing.key))] == wing.lot_size
    assert switch.blocks(rig.uid, rig.strategy_id, rig.zerodha["id"])
    assert switch.blocks(rig.uid, rig.strategy_id, rig.shoonya["id"]) is None
    switch.release(rig.uid, "account", rig.zerodha["id"])
    assert switch.blocks(rig.uid, rig.strategy_id, rig.zerodha["id"]) is None


def test_strategy_scope_needs_an_own_strategy(rig: Rig):
    from chalicelib.errors import NotFound, ValidationFailed

    switch = rig.container.kill_switch
    with pytest.raises(NotFound):
        switch.engage(rig.uid, "strategy", "nope", who=rig.uid)
    with pytest.raises(ValidationFailed):
        switch.engage(rig.uid, "strategy", None, who=rig.uid)
    with pytest.raises(NotFound):
        switch.release(rig.uid, "strategy", "nope")
