"""Strategy exits on the underlying's move, and RE_EXECUTE re-entries on a freshly resolved strike
(issue #15, Deliver 2 and 5), on the simulated exchange with the index and premiums pinned second
by second: each test asserts the exact orders the fake Kite received.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from chalicelib.domain.protection import protected_limit_price
from chalicelib.domain.underlying import Underlying
from chalicelib.services.closing import canonical_symbol
from tests.integration.risk.harness import Scenario, Sim

D = Decimal


def pinned_index(sim: Sim) -> Decimal:
    """Pin NIFTY on a listed strike (ATM is then unambiguous) and return the level."""
    level = (sim.exchange.spot("NIFTY") / 50).to_integral_value() * 50
    sim.exchange.set_spot("NIFTY", level)
    return level


def index(s: Scenario, level: Decimal) -> None:
    s.sim.exchange.set_spot(Underlying.NIFTY, level)


def shape(placed: list[dict[str, str]]) -> list[tuple[str, ...]]:
    return [
        (p["transaction_type"], p["order_type"], p["tradingsymbol"], p["quantity"], p["price"],
         p.get("trigger_price", "0"))
        for p in placed
    ]  # fmt: skip


def limit(side: str, ltp: str, s: Scenario) -> str:
    tick = s.contracts[0].tick_size
    return str(protected_limit_price(side, D(ltp), on=s.now.date(), tick=tick))


def test_an_index_rise_stops_a_short_call_strategy(sim: Sim):
    level = pinned_index(sim)
    s = Scenario(sim, [{"side": "SELL"}], {"underlying_stop_loss": {"type": "POINTS", "value": 50}})
    s.enter()
    assert D(s.book().mtm["underlying"]["entry"]) == level
    lot = s.contracts[0].lot_size
    index(s, level - 200)  # favourable: a short call gains as the index falls (no target set)
    index(s, level + D("49.95"))
    s.steps(2)
    assert s.placed() == [] and s.broker_position(0) == -lot
    index(s, level + 50)
    s.price(0, "104.00")
    s.step()
    placed = s.placed()
    assert shape(placed) == [
        ("BUY", "LIMIT", placed[0]["tradingsymbol"], str(lot), limit("BUY", "104.00", s), "0")
    ], placed
    s.steps(2)
    assert s.broker_positions() == {} and s.platform_positions() == {}
    [event] = s.events("underlying_exit")
    assert event["reason"] == "UNDERLYING_STOP_LOSS"
    assert [D(event[k]) for k in ("price", "entry_spot", "level")] == [
        level + 50,
        level,
        level + 50,
    ]
    index(s, level + 500)
    s.steps(2)  # exited: nothing more is sent
    assert len(s.placed()) == 1
    s.check()


def test_a_percent_target_closes_a_bought_call_only_on_a_rise(sim: Sim):
    level = pinned_index(sim)
    s = Scenario(sim, [{"side": "BUY"}],
                 {"underlying_target": {"type": "PERCENT", "value": "0.5"}})  # fmt: skip
    s.enter()
    lot = s.contracts[0].lot_size
    move = level * D("0.005")
    index(s, level - move - 100)  # the adverse way: no stop is set, nothing happens
    s.steps(2)
    assert s.placed() == []
    index(s, level + move)
    s.price(0, "150.00")
    s.steps(3)
    placed = s.placed()
    assert shape(placed) == [
        ("SELL", "LIMIT", placed[0]["tradingsymbol"], str(lot), limit("SELL", "150.00", s), "0")
    ], placed
    assert s.broker_positions() == {} and s.platform_positions() == {}
    assert [e["reason"] for e in s.events("underlying_exit")] == ["UNDERLYING_TARGET"]
    s.check()


def test_an_underlying_exit_cancels_the_leg_stop_before_closing(sim: Sim):
    level = pinned_index(sim)
    leg = {"side": "SELL", "stop_loss": {"type": "POINTS", "value": "20"}}
    s = Scenario(sim, [leg], {"underlying_stop_loss": {"type": "PERCENT", "value": "1"}})
    s.enter()
    lot = s.contracts[0].lot_size
    [stop] = s.placed()
    assert (stop["order_type"], stop["trigger_price"]) == ("SL", "120.00") or stop[
        "trigger_price"
    ] == "120", stop
    index(s, level + level / 100)
    s.price(0, "112.00")
    s.steps(3)
    placed = s.placed()
    assert shape(placed[1:]) == [
        ("BUY", "LIMIT", stop["tradingsymbol"], str(lot), limit("BUY", "112.00", s), "0")
    ], placed
    assert s.resting_stops() == {}
    assert s.broker_positions() == {} and s.platform_positions() == {}
    s.check()


def test_re_execute_re_enters_at_the_strike_resolved_now(sim: Sim):
    level = pinned_index(sim)
    leg: dict[str, Any] = {
        "side": "SELL", "stop_loss": {"type": "POINTS", "value": "10"},
        "re_entry": {"mode": "RE_EXECUTE", "max_count": 1},
    }  # fmt: skip
    s = Scenario(sim, [leg], {})
    s.enter()
    lot = s.contracts[0].lot_size
    old = s.contracts[0]
    assert old.strike == level
    new_key = old.key.__class__(
        old.key.underlying, old.key.expiry, level + 200, old.key.option_type
    )
    index(s, level + 200)  # the index rallies: the ATM call is now 200 points higher
    sim.exchange.set_price(new_key, D("95.00"))
    s.price(0, "111.00")  # the stop at 110 fills
    s.steps(3)
    placed = s.placed()
    assert shape(placed)[0][:2] == ("BUY", "SL") and placed[0]["trigger_price"] in ("110", "110.00")
    assert shape(placed[1:2]) == [
        ("SELL", "LIMIT", placed[1]["tradingsymbol"], str(lot), limit("SELL", "95.00", s),
         "0")
    ], placed  # fmt: skip
    assert placed[1]["tradingsymbol"] != placed[0]["tradingsymbol"]
    assert (
        placed[2]["order_type"] == "SL"
        and placed[2]["tradingsymbol"] == placed[1]["tradingsymbol"]
        and placed[2]["trigger_price"] in ("105", "105.00")
    ), placed
    assert len(placed) == 3
    new_symbol = canonical_symbol(new_key)
    assert s.broker_positions() == {new_symbol: -lot} == s.platform_positions()
    fresh = [g for g in s.guards() if g["cycle"] == 1]
    assert [g["symbol"] for g in fresh] == [new_symbol]
    [event] = s.events("re_entered")
    assert event["mode"] == "RE_EXECUTE"
    s.check()
