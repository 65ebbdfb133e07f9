"""The exit guard's decisions at T on the in-memory store: every exit closes what is held when it
acts, never more; what cannot be checked is held back (claimed, unsent, with an alert); an order
someone else moved is not sent; units held beyond the plan are closed by orders written claimed
before they leave."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from chalicelib.domain import order_lifecycle as lc
from chalicelib.services.closing import canonical_symbol, contract_doc
from chalicelib.services.exit_guard import ExitGuard
from chalicelib.services.leases import Leases
from chalicelib.services.order_builder import ChildOrder
from chalicelib.services.order_sender import order_request
from tests.fakes.executions import position_sk
from tests.fakes.records import Position
from tests.unit.engine.settling import CE, LOT, PE, STRATEGY, UID, World


@dataclass
class LeaseTable:
    """The lease store port in memory: one holder per (user, strategy, account) until expiry."""

    held: dict[tuple[str, str, str], tuple[str, float]] = field(default_factory=dict)

    def take(self, uid: str, strategy_id: str, account_id: str, owner: str, now: float,
             ttl: float) -> bool:  # fmt: skip
        holder = self.held.get((uid, strategy_id, account_id))
        if holder is not None and holder[0] != owner and holder[1] > now:
            return False
        self.held[(uid, strategy_id, account_id)] = (owner, now + ttl)
        return True

    def drop(self, uid: str, strategy_id: str, account_id: str, owner: str) -> bool:
        holder = self.held.get((uid, strategy_id, account_id))
        if holder is None or holder[0] != owner:
            return False
        del self.held[(uid, strategy_id, account_id)]
        return True

    def holder(self, uid: str, strategy_id: str, account_id: str) -> Any:
        return self.held.get((uid, strategy_id, account_id))


@dataclass
class NoRiskBook:
    """The risk engine as the guard sees it for a strategy without risk rules."""

    clock: Any

    def freeze(self, uid: str, trade_date: str, strategy_id: str, reason: Any,
               account_id: str | None) -> None:  # fmt: skip
        return None

    def held_back(self, book: Any, account_id: str | None) -> dict[str, int]:
        return {}


@dataclass
class Guarded:
    world: World = field(default_factory=World)
    alerts: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        w = self.world
        w.execution(phase="EXIT", status="SENT")
        self.leases = LeaseTable()
        self.guard = ExitGuard(
            NoRiskBook(w.clock),
            Leases(self.leases, w.clock, sleep=w.ticker.sleep, monotonic=w.ticker),
            w.settlement(),
            patience=0.5,
            alert=lambda subject, details: self.alerts.append(subject),
            store=w.store,
        )

    def hold(self, net: int, key=CE, account: str = "A1") -> None:
        child = ChildOrder(
            account_id=account, broker="zerodha", leg=0, slice_no=0, side="SELL", key=key,
            exchange="NFO", lot_size=LOT, tick_size=Decimal("0.05"), quantity=LOT,
            limit_price=Decimal("100"), product="MIS", tag="E1",
        )  # fmt: skip
        symbol = canonical_symbol(key)
        sk = position_sk(STRATEGY, account, symbol)
        self.world.store.positions_by_key[(UID, sk)] = Position(
            sk=sk, uid=UID, strategy_id=STRATEGY, account_id=account, symbol=symbol,
            contract=contract_doc(child.to_dict(), "SYM"), net_quantity=net, version=1,
            updated_at="2026-12-01T09:20:00.000+05:30",
        )  # fmt: skip

    def exit_order(self, order_id: str, lots: int, key=CE, side: str = "BUY"):
        return self.world.order(order_id, phase="EXIT", side=side, lots=lots, key=key,
                                status=lc.CLAIMED, claim_token="firer",
                                claimed_at="2026-12-01T09:20:00.000+05:30")  # fmt: skip

    def run(self, *orders: Any):
        requests = [order_request(ChildOrder.from_dict(o.request), self.world.market)
                    for o in orders]  # fmt: skip
        return self.guard(list(orders), requests, self.world.brokers["A1"])


def test_an_exit_is_trimmed_to_what_is_still_held():
    g = Guarded()
    g.hold(-LOT)  # a stop closed one of the two lots since the exit was planned
    order = g.exit_order("x1", lots=2)

    kept, requests = g.run(order)

    assert [o.order_id for o in kept] == ["x1"] and requests[0].quantity == LOT
    stored = g.world.stored(order)
    assert stored.request["quantity"] == LOT and stored.status == lc.CLAIMED
    assert g.leases.held  # kept until the exit's orders are settled


def test_an_exit_with_nothing_left_to_close_is_cancelled_never_sent():
    g = Guarded()
    g.hold(0)  # the kill switch squared it off
    order = g.exit_order("x1", lots=1)

    kept, _ = g.run(order)

    assert kept == []
    stored = g.world.stored(order)
    assert stored.status == lc.CANCELLED and stored.error["code"] == "already_closed"


def test_an_exit_someone_else_moved_meanwhile_is_not_sent_and_what_it_would_close_is_closed_once():
    g = Guarded()
    g.hold(-LOT)
    order = g.exit_order("x1", lots=1)
    g.world.stored(order).status = lc.FAILED  # the sweep recorded it never sent (stale claim)

    kept, requests = g.run(order)

    assert g.world.stored(order).status == lc.FAILED
    # what it would have closed is still held: closed once, by the guard's own claimed order
    assert [o.order_id for o in kept] != ["x1"] and len(kept) == 1
    assert kept[0].claim_token.startswith("exit-hook:") and requests[0].quantity == LOT


def test_a_sibling_in_an_unknown_state_holds_the_exit_back_with_an_alert():
    g = Guarded()
    g.hold(-LOT)
    g.world.order("k1", phase="KILL", side="BUY", status=lc.OPEN, broker_order_id="B4",
                  execution="KILL#x")  # fmt: skip
    g.world.brokers["A1"].add("Tk1", LOT, order_id="B4")
    g.world.brokers["A1"].down = True  # its cancel and status cannot be confirmed
    order = g.exit_order("x1", lots=1)

    kept, _ = g.run(order)

    assert kept == []
    stored = g.world.stored(order)
    assert stored.status == lc.CLAIMED and stored.error["code"] == "in_flight"
    assert g.alerts == ["closing order held back"]
    assert g.world.events("EXIT")[-1]["code"] == "closing_held_back"
    assert g.leases.held == {}  # given back: nothing of this exit is sent


def test_another_closer_holding_the_lease_holds_the_exit_back():
    g = Guarded()
    g.hold(-LOT)
    g.leases.held[(UID, STRATEGY, "A1")] = ("kill:op1", float("inf"))
    order = g.exit_order("x1", lots=1)

    kept, _ = g.run(order)

    assert kept == [] and g.world.stored(order).error["code"] == "lease_busy"
    assert g.leases.held[(UID, STRATEGY, "A1")][0] == "kill:op1"


def test_units_held_beyond_the_plan_are_closed_by_orders_written_claimed_first():
    g = Guarded()
    g.hold(-LOT)
    g.hold(-LOT, key=PE)  # a re-entry filled after the exit was planned
    order = g.exit_order("x1", lots=1)

    kept, requests = g.run(order)

    assert len(kept) == 2 and kept[0].order_id == "x1"
    extra = g.world.stored(kept[1])
    assert extra.status == lc.CLAIMED and extra.claim_token == f"exit-hook:{extra.order_id}"
    assert extra.execution == order.execution and extra.phase == "EXIT"
    assert requests[1].instrument.key == PE and requests[1].quantity == LOT
