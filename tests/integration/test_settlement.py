"""Settlement against the sim's fake brokers: real orders through the adapters, polled to a
terminal state, fills applied to positions once, and the entry failure policy (UNWIND / KEEP)."""

from __future__ import annotations

import pytest

from chalicelib.adapters.dynamo.event_items import execution_events
from chalicelib.services.closing import canonical_symbol
from tests.integration.execution_rig import Rig, make_rig


@pytest.fixture
def rig(client, fakes) -> Rig:
    return make_rig(client, fakes)


def test_fill_becomes_a_position_with_its_history(rig: Rig):
    [ce] = rig.contracts(1)
    execution = rig.execution()
    order = rig.send(execution, rig.child("zerodha", ce, "BUY", lots=2))
    assert order.status == "OPEN" and order.broker_order_id and order.acked_at

    report = rig.settlement().settle(rig.uid, execution.sk)

    assert report.status == "COMPLETE" and report.settled
    stored = rig.container.executions.orders_of_execution(rig.uid, execution.sk)[0]
    assert stored.status == "COMPLETE" and stored.applied == 1
    assert stored.filled_quantity == 2 * ce.lot_size and stored.average_price
    assert [h["status"] for h in stored.history][-1] == "COMPLETE"
    assert stored.sent_at <= stored.acked_at
    assert rig.positions() == {(rig.zerodha["id"], canonical_symbol(ce.key)): 2 * ce.lot_size}
    # settling again never applies the fill twice
    rig.settlement().settle(rig.uid, execution.sk)
    assert rig.positions() == {(rig.zerodha["id"], canonical_symbol(ce.key)): 2 * ce.lot_size}
    [position] = rig.container.executions.positions(rig.uid, rig.strategy_id)
    assert position.contract["broker_symbol"]  # the broker's tradingsymbol is kept


def test_partial_fill_rests_then_counts_what_filled(rig: Rig):
    [ce] = rig.contracts(1)
    rig.server("zerodha").inject(rig.zerodha["client_id"], "partial_fill", ratio=0.5)
    execution = rig.execution()
    rig.send(execution, rig.child("zerodha", ce, "BUY", lots=2))
    settlement = rig.settlement()

    first = settlement.settle(rig.uid, execution.sk, on_leg_failure="KEEP")
    assert not first.settled and first.status == "SENT"
    [order] = rig.container.executions.orders_of_execution(rig.uid, execution.sk)
    assert order.status == "PARTIAL" and order.filled_quantity == ce.lot_size
    # the filled part is held at the broker, so it is held here too (the rest, if it fills, adds)
    assert rig.positions() == {(rig.zerodha["id"], canonical_symbol(ce.key)): ce.lot_size}

    settlement.cancel_open(rig.uid, [order])
    final = settlement.settle(rig.uid, execution.sk, on_leg_failure="KEEP")
    assert final.status == "PARTIAL" and final.policy == "KEEP"
    assert rig.positions() == {(rig.zerodha["id"], canonical_symbol(ce.key)): ce.lot_size}
    events = execution_events(rig.container.executions.get_execution(rig.uid, execution.sk))
    assert any(e["kind"] == "alert" and e["policy"] == "KEEP" for e in events)


def test_rejection_after_ack_is_terminal_and_fills_nothing(rig: Rig):
    [ce] = rig.contracts(1)
    rig.server("zerodha").inject(rig.zerodha["client_id"], "rms_reject")
    execution = rig.execution()
    order = rig.send(execution, rig.child("zerodha", ce, "BUY"))
    assert order.status == "OPEN"  # acknowledged: a broker "success" is not a fill

    report = rig.settlement().settle(rig.uid, execution.sk)

    assert report.status == "FAILED" and report.policy is None
    [stored] = rig.container.executions.orders_of_execution(rig.uid, execution.sk)
    assert stored.status == "REJECTED" and stored.history[-1]["message"]
    assert [h["status"] for h in stored.history] == ["OPEN", "REJECTED"]
    assert rig.positions() == {}


def _sent_orders(rig: Rig, marks: dict[str, int]) -> list[tuple[str, str]]:
    sent = []
    for broker, since in marks.items():
        for request in rig.received(broker, since):
            sent.append((broker, request.path))
    return sent


def test_unwind_when_one_broker_rejects_a_leg_after_others_filled(rig: Rig):
    short, wing = rig.contracts(2)
    execution = rig.execution()
    rig.send(execution, rig.child("zerodha", wing, "BUY", leg=1))
    rig.send(execution, rig.child("zerodha", short, "SELL", leg=0))
    rig.server("shoonya").inject(rig.shoonya["client_id"], "rms_reject")
    rig.send(execution, rig.child("shoonya", wing, "BUY", leg=1))  # rejected by RMS
    rig.send(execution, rig.child("shoonya", short, "SELL", leg=0))
    marks = {
        "zerodha": len(rig.server("zerodha").received),
        "shoonya": len(rig.server("shoonya").received),
    }

    report = rig.settlement().settle(rig.uid, execution.sk)

    assert report.policy == "UNWIND" and report.status == "UNWOUND", report
    unwind = [(u["account_id"], u["side"], u["quantity"]) for u in report.unwind]
    lot = short.lot_size
    # shorts bought back first (both accounts), then the long wing sold; nothing for the rejected leg
    assert sorted(unwind[:2]) == sorted(
        [(rig.zerodha["id"], "BUY", lot), (rig.shoonya["id"], "BUY", lot)]
    )
    assert unwind[2:] == [(rig.zerodha["id"], "SELL", lot)]
    assert all(u["status"] == "COMPLETE" and u["tag"][10] == "U" for u in report.unwind)
    assert len({u["tag"] for u in report.unwind}) == 3
    # exactly three order requests reached the brokers after the entry: two at Zerodha, one at Shoonya
    new = _sent_orders(rig, marks)
    assert sum(b == "zerodha" for b, _ in new) == 2 and sum(b == "shoonya" for b, _ in new) == 1
    assert set(rig.positions().values()) == {0}  # flat everywhere
    stored = rig.container.executions.get_execution(rig.uid, execution.sk)
    assert stored.status == "UNWOUND"
    assert [e["kind"] for e in execution_events(stored)][-2:] == ["unwind", "settled"]
    # a second settlement run (a retry) does not unwind again
    again = rig.settlement().settle(rig.uid, execution.sk)
    assert again.status == "UNWOUND" and _sent_orders(rig, marks) == new


def test_keep_policy_records_an_alert_and_keeps_the_fills(rig: Rig):
    short, wing = rig.contracts(2)
    execution = rig.execution()
    rig.send(execution, rig.child("zerodha", short, "SELL"))
    rig.server("zerodha").inject(rig.zerodha["client_id"], "rms_reject")
    rig.send(execution, rig.child("zerodha", wing, "BUY", leg=1))

    report = rig.settlement().settle(rig.uid, execution.sk, on_leg_failure="KEEP")

    assert report.status == "PARTIAL" and report.unwind == []
    assert rig.positions() == {(rig.zerodha["id"], canonical_symbol(short.key)): -short.lot_size}


def test_exit_closes_the_real_positions_not_the_configured_legs(rig: Rig):
    short, wing = rig.contracts(2)
    entry = rig.execution()
    rig.send(entry, rig.child("zerodha", short, "SELL", lots=2))
    rig.send(entry, rig.child("shoonya", short, "SELL"))
    rig.server("shoonya").inject(rig.shoonya["client_id"], "rms_reject")
    rig.send(entry, rig.child("shoonya", wing, "BUY", leg=1))
    rig.settlement().settle(rig.uid, entry.sk, on_leg_failure="KEEP")

    orders, errors = rig.closer().exit_orders(rig.uid, rig.strategy_id)

    assert errors == []
    got = sorted((o.account_id, o.side, o.quantity, o.key) for o in orders)
    lot = short.lot_size
    assert got == sorted(
        [(rig.zerodha["id"], "BUY", 2 * lot, short.key), (rig.shoonya["id"], "BUY", lot, short.key)]
    )
    assert all(o.tag[10] == "X" for o in orders)
    exit_ = rig.execution("EXIT")
    for child in orders:
        rig.send(exit_, child)
    report = rig.settlement().settle(rig.uid, exit_.sk)
    assert report.status == "COMPLETE"
    assert set(rig.positions().values()) == {0}
    assert rig.closer().exit_orders(rig.uid, rig.strategy_id) == ([], [])
