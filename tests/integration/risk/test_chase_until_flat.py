"""Chase until flat: a triggered stop the market ran past, a close that does not fill and a
refused close are re-priced every few seconds with a widening protected limit (within the
exchange's band) until the broker shows the leg flat; past a bound an urgent alert says so, and
the leg stays watched. The book is done only when every leg is.
"""

from __future__ import annotations

from tests.integration.risk.harness import SHORT_SL30, Scenario, Sim, is_close

TARGET = {**SHORT_SL30, "target": {"type": "POINTS", "value": "20"}}


def closes(s: Scenario) -> list[dict[str, str]]:
    return [p for p in s.placed() if p["order_type"] == "LIMIT"]


def test_a_triggered_stop_the_market_ran_past_is_chased(sim: Sim):
    s = Scenario(sim, [SHORT_SL30], {})
    s.enter()
    s.price(0, "180.00")  # the stop triggers at 130 but its limit (133.90) is far behind
    [stop] = s.orders("STOP")
    assert s.sim.exchange.order(s.client_id, stop.broker_order_id).status == "OPEN"
    s.steps(2)
    assert len(closes(s)) == 1
    assert s.position(0) == 0 and s.broker_position(0) == 0
    [guard] = s.guards()
    assert guard["reason"] == "STOP_LOSS" and guard["exit_price"] == "180.00"
    s.check()


def test_a_partly_filled_stop_then_a_gap_closes_only_the_rest(sim: Sim):
    s = Scenario(sim, [{**SHORT_SL30, "lots": 2}], {})
    s.enter()
    lot = s.contracts[0].lot_size
    sim.kite.inject(s.client_id, "partial_fill", ratio="0.5", hold=60)
    [first] = s.orders("STOP")
    s.engine.settlement.cancel_open(sim.uid, [first])  # the next stop carries the fault
    s.step()
    s.price(0, "131.00")  # one lot of the stop fills, the rest is held back
    s.price(0, "180.00")  # then the premium gaps past its limit
    s.steps(2)
    [close] = closes(s)
    assert int(close["quantity"]) == lot  # only what the stop did not
    assert s.position(0) == 0 and s.broker_position(0) == 0
    s.check()


def test_a_close_that_does_not_fill_is_repriced_until_flat(sim: Sim):
    s = Scenario(sim, [TARGET], {})
    s.enter()
    s.trap("place", is_close, "before", before=lambda: s.price(0, "90.00"))
    s.price(0, "79.00")
    s.step()  # the close leaves at 81.40 while the premium jumps to 90: it rests
    assert len(closes(s)) == 1 and s.broker_position(0) == -s.contracts[0].lot_size
    assert s.book().status == "LIVE" and s.guards()[0]["state"] == "EXITING"
    s.step()  # not yet: re-priced every few seconds
    assert len(closes(s)) == 1
    s.steps(3)
    assert len(closes(s)) == 2  # cancelled, then sent further into the book
    assert float(closes(s)[1]["price"]) > 90
    assert s.position(0) == 0 and s.broker_position(0) == 0
    assert [g["state"] for g in s.guards()] == ["DONE"]
    s.check()


def test_a_rejected_mtm_close_is_retried_and_the_book_waits_for_flat(sim: Sim):
    s = Scenario(sim, [SHORT_SL30, SHORT_SL30], {"mtm_stop_loss": "1000"})
    s.enter()
    sim.kite.inject(s.client_id, "rms_reject")
    s.price(0, "125.00")
    s.step()
    assert s.book().status == "LIVE"  # one leg's close was refused: not done
    assert s.broker_position(0) != 0 or s.broker_position(1) != 0
    s.steps(3, seconds=2)
    assert s.platform_positions() == {} and s.broker_positions() == {}
    assert s.book().status == "DONE"
    assert s.events("exit_repriced")
    s.check()


def test_rejected_target_closes_keep_the_leg_watched_and_alert_once(sim: Sim):
    s = Scenario(sim, [TARGET], {})
    s.enter()
    sim.kite.inject(s.client_id, "rms_reject", count=6)
    s.price(0, "79.00")
    s.steps(6, seconds=3)  # six refusals, each re-priced three seconds later
    assert s.broker_position(0) == -s.contracts[0].lot_size
    [guard] = s.guards()
    assert guard["state"] == "EXITING"  # never left unwatched
    urgent = [e for e in s.events("alert") if e["code"] == "exit_not_flat"]
    assert len(urgent) == 1 and urgent[0]["urgent"]
    s.steps(2, seconds=3)
    assert s.position(0) == 0 and s.broker_position(0) == 0
    assert [g["state"] for g in s.guards()] == ["DONE"]
    s.check()
