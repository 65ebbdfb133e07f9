"""The guard's decisions on prices and fills: stop hit at the broker, target, trailing, MTM."""

from __future__ import annotations

from decimal import Decimal

from tests.unit.engine.risk_world import LOT, World, leg

D = Decimal
STOP_20 = {"stop_loss": {"type": "POINTS", "value": "20"}}


def armed(*legs: dict, **risk: object) -> World:
    world = World(list(legs), **risk)
    world.arm()
    return world


def test_a_stop_filled_at_the_broker_closes_the_guard_without_another_order() -> None:
    world = armed(leg("SELL", **STOP_20))
    [stop] = world.stops()
    world.broker.fill(stop.order_id, LOT, D("120.50"))
    world.price(0, "121")

    world.cycle()

    [guard] = world.guards()
    assert (guard["state"], guard["reason"], guard["exit_price"]) == ("DONE", "STOP_LOSS", "120.50")
    assert world.closes() == [world.broker.book["X0"]]  # only the entry: nothing closed twice
    assert world.net() == 0
    assert "stop_loss" in world.events()
    assert world.book().status == "LIVE"  # the book ends at the exit time, not before


def test_a_target_cancels_the_stop_first_then_closes_what_is_held() -> None:
    world = armed(leg("SELL", **STOP_20, target={"type": "POINTS", "value": "30"}))
    world.broker.fill_limits = True
    [stop] = world.stops()
    world.price(0, "69.95")

    world.cycle()

    [guard] = world.guards()
    assert (guard["state"], guard["reason"]) == ("DONE", "TARGET")  # closed; no re-entry rule
    kinds = [kind for kind, _ in world.broker.calls]
    assert kinds == ["place", "cancel", "place"]  # stop, its cancel, then the close
    [close] = [o for o in world.closes() if o.order_id != "X0"]
    assert (close.request.side.value, close.request.quantity) == ("BUY", LOT)
    assert stop.status.value == "CANCELLED"
    assert world.net() == 0


def test_the_close_waits_while_the_stop_cancel_is_not_confirmed() -> None:
    world = armed(leg("SELL", **STOP_20, target={"type": "POINTS", "value": "30"}))
    [stop] = world.stops()
    world.broker.defer_cancels = True
    world.broker.fill_limits = True
    world.price(0, "69.95")

    world.cycle()

    assert world.guards()[0]["state"] == "EXITING"
    assert [o.order_id for o in world.closes()] == ["X0"]  # never a close under a live stop
    world.broker.confirm_cancels()
    world.later(1)
    world.cycle()
    assert stop.status.value == "CANCELLED"
    assert world.guards()[0]["state"] == "DONE"
    assert len(world.closes()) == 2
    assert world.net() == 0


def test_trailing_moves_the_resting_stop_at_the_broker() -> None:
    world = armed(leg("SELL", **STOP_20, trailing={"every": "10", "by": "5"}))
    [stop] = world.stops()
    world.price(0, "89.95")

    world.cycle()

    [guard] = world.guards()
    assert guard["stop"] == "115.00"
    assert ("modify", stop.order_id) in world.broker.calls
    assert stop.request.trigger == D("115.00")
    [stored] = world.store.all_orders("STOP")
    assert stored.request["trigger"] == "115.00"
    assert guard["broker_stop"] == "115.00"
    assert "trail" in world.events()


def test_an_mtm_stop_loss_exits_every_leg_of_the_strategy() -> None:
    world = armed(
        leg("SELL", **STOP_20), leg("SELL", strike="24500", **STOP_20), mtm_stop_loss="1500"
    )
    world.broker.fill_limits = True
    world.price(0, "110")
    world.price(1, "110.05")  # 75 x 10 + 75 x 10.05 = 1503.75 lost

    world.cycle()

    assert [g["reason"] for g in world.guards()] == ["MTM_STOP_LOSS", "MTM_STOP_LOSS"]
    assert [g["state"] for g in world.guards()] == ["DONE", "DONE"]
    assert "mtm_exit" in world.events()
    assert world.net() == 0
    world.later(1)
    world.price(0, "50")  # the exit is taken once: a later price decides nothing new
    world.cycle()
    assert world.events().count("mtm_exit") == 1


def test_no_price_for_a_guarded_position_is_an_urgent_alert_repeated_at_most_every_30_s() -> None:
    world = armed(leg("SELL", **STOP_20))
    world.closer.quotes.clear()

    world.cycle()
    world.later(10)
    world.cycle()
    world.later(25)
    world.cycle()

    assert world.events().count("alert") == 2
    assert [o.order_id for o in world.closes()] == ["X0"]
