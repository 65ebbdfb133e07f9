"""Guards follow fills, not orders: an entry still resting when settlement's deadline passed is
watched, and every unit it fills later is guarded (the stop replaced by one for the new
quantity, never a second stop beside it)."""

from __future__ import annotations

from tests.integration.risk.harness import SHORT_SL30, Scenario, Sim


def test_late_entry_fills_after_settlements_deadline_are_guarded(sim: Sim):
    s = Scenario(sim, [{**SHORT_SL30, "lots": 2}], {})
    lot = s.contracts[0].lot_size
    sim.kite.inject(s.sim.account["client_id"], "partial_fill", ratio="0.5", hold=60)
    s.enter()  # one lot fills, the other is held back past the settlement's deadline
    [guard] = s.guards()
    assert guard["quantity"] == lot
    [stop] = s.orders("STOP")
    assert int(stop.request["quantity"]) == lot
    s.step(seconds=61)  # the rest of the entry fills
    s.steps(2)
    assert s.position(0) == -2 * lot and s.broker_position(0) == -2 * lot
    [guard] = s.guards()
    assert guard["quantity"] == 2 * lot
    resting = [
        o
        for o in s.broker_orders()
        if o.order_type == "SL" and o.status in ("TRIGGER_PENDING", "OPEN")
    ]
    assert [o.quantity for o in resting] == [2 * lot]  # one stop, for everything held
    assert s.events("fill_guarded")
    s.price(0, "131.00")
    s.steps(2)
    assert s.position(0) == 0 and s.broker_position(0) == 0
    s.check()


def test_an_exit_cancels_the_entrys_unfilled_remainder(sim: Sim):
    s = Scenario(sim, [{**SHORT_SL30, "lots": 2, "target": {"type": "POINTS", "value": "20"}}], {})
    lot = s.contracts[0].lot_size
    sim.kite.inject(s.sim.account["client_id"], "partial_fill", ratio="0.5", hold=60)
    s.enter()
    s.price(0, "79.00")  # target: the filled lot is closed, the resting lot cancelled
    s.steps(2)
    [entry] = [o for o in s.orders("ENTRY")]
    assert entry.status == "CANCELLED" and entry.filled_quantity == lot
    s.step(seconds=61)
    assert s.position(0) == 0 and s.broker_position(0) == 0
    s.check()
