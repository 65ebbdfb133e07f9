"""A crashed monitor on the remaining close paths: a re-entry sent, and a chased close re-priced,
right before the process died. The restarted monitor finds each by its tag: nothing is sent
twice and every unit ends guarded or flat."""

from __future__ import annotations

from chalicelib.ports.broker import OrderRequest, OrderType
from tests.integration.risk.harness import Crash, Scenario, Sim, is_close

RE_ASAP = {"side": "SELL", "stop_loss": {"type": "POINTS", "value": "10"},
           "re_entry": {"mode": "RE_ASAP", "max_count": 1}}  # fmt: skip


def is_reentry(request: OrderRequest) -> bool:
    return request.order_type is OrderType.LIMIT and request.side.value == "SELL"


def crash(s: Scenario) -> None:
    s.sim.clock.advance()
    try:
        s.engine.step(s.book(), s.now)
    except Crash:
        return
    raise AssertionError("the trap did not spring")


def test_a_crash_right_after_a_re_entry_was_sent(sim: Sim):
    s = Scenario(sim, [RE_ASAP], {})
    s.enter()
    lot = s.contracts[0].lot_size
    s.trap("place", is_reentry, "crash_after")
    s.price(0, "111.00")  # the stop fills; the re-entry goes out at once, then the process dies
    crash(s)
    assert s.broker_position(0) == -lot
    s.engine = s.fresh_engine()
    s.steps(3)
    sells = [p for p in s.placed() if p["transaction_type"] == "SELL"]
    assert len(sells) == 1  # the re-entry, found by its tag, not sent again
    assert s.position(0) == -lot and s.broker_position(0) == -lot
    assert [g["state"] for g in s.guards()] == ["DONE", "ARMED"]
    assert sum(s.resting_stops().values()) == 1  # the new cycle is guarded
    s.check()


def test_a_crash_right_after_a_chased_close_was_re_priced(sim: Sim):
    s = Scenario(sim, [{"side": "SELL", "stop_loss": {"type": "PERCENT", "value": "30"},
                        "target": {"type": "POINTS", "value": "20"}}], {})  # fmt: skip
    s.enter()
    s.trap("place", is_close, "before", before=lambda: s.price(0, "90.00"))
    s.trap("place", is_close, "crash_after")
    s.price(0, "79.00")
    s.step()  # the first close rests behind the market
    s.sim.clock.advance(3)
    crash(s)  # cancelled, re-priced, sent: then the process dies
    s.engine = s.fresh_engine()
    s.steps(3)
    closes = [p for p in s.placed() if p["order_type"] == "LIMIT"]
    assert len(closes) == 2
    assert s.position(0) == 0 and s.broker_position(0) == 0
    s.check()
