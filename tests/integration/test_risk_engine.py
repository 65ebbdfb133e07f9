"""Risk management scenarios on the simulated exchange, through the real adapters and fake brokers.

Each test enters real positions (pinned premiums make every fill price exact), arms the risk
book, drives the premium through a rule with ``SimExchange.set_price`` and runs monitor steps,
then asserts the exact orders the broker received and the final positions.
"""

from __future__ import annotations

import threading
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import pytest

from chalicelib.adapters.dynamo.order_items import order_item
from chalicelib.adapters.dynamo.risk_items import RiskRepository
from chalicelib.adapters.dynamo.risk_orders import RiskOrders
from chalicelib.domain.calendar import IST
from chalicelib.domain.instrument import Instrument
from chalicelib.services.closing import canonical_symbol
from chalicelib.services.exit_guard import ExitGuard
from chalicelib.services.firer import Firer
from chalicelib.services.risk_engine import RiskEngine
from tests.integration.execution_rig import FAST, Rig, make_rig

D = Decimal


TEN_AM = datetime(2026, 11, 25, 10, 0, tzinfo=IST)  # a trading Wednesday, mid-session


def ten_am() -> datetime:
    return TEN_AM


@pytest.fixture
def rig(client, fakes, platform_clock) -> Rig:
    platform_clock.set(TEN_AM)
    return make_rig(client, fakes)


class Scenario:
    """A strategy on the rig's Zerodha account, entered at pinned prices, with its engine."""

    def __init__(self, rig: Rig, legs: list[dict[str, Any]], risk: dict[str, Any]) -> None:
        self.rig = rig
        basket = rig.api.call("POST", "/baskets", {"name": "risk", "enabled": True}).data
        body = {
            "basket_id": basket["id"], "name": "risk scenario", "underlying": "NIFTY",
            "expiry": "current_week", "product": "MIS",
            "entry": {"time": "09:20:00", "days": ["MON", "TUE", "WED", "THU", "FRI"]},
            "exit": {"time": "15:15:00"},
            "allocations": [{"account_id": rig.zerodha["id"], "multiplier": 1}],
            "legs": [
                {"side": leg["side"], "option_type": "CE",
                 "strike": {"method": "ATM_OFFSET", "value": 0}, "lots": 1,
                 **{k: v for k, v in leg.items() if k not in ("side", "price")}}
                for leg in legs
            ],
            "risk": risk,
        }  # fmt: skip
        created = rig.api.call("POST", "/strategies", body)
        assert created.status_code == 201, created.body
        rig.strategy_id = created.data["id"]
        self.legs = legs
        self.contracts: list[Instrument] = rig.contracts(len(legs))
        self.now = ten_am()
        c = rig.container
        settlement = rig.settlement(FAST)
        self.engine = RiskEngine(
            RiskRepository(c.settings.schedule_shards),
            c.repo,
            settlement,
            lambda: self.now,
            RiskOrders(c.executions),
        )
        self.client_id = rig.zerodha["client_id"]

    def price(self, leg: int, value: str) -> None:
        self.rig.exchange.set_price(self.contracts[leg].key, D(value))

    def enter(self) -> Any:
        rig = self.rig
        for i, leg in enumerate(self.legs):
            self.price(i, leg.get("price", "100"))
        execution = rig.execution()
        for i, leg in enumerate(self.legs):
            rig.send(execution, rig.child("zerodha", self.contracts[i], leg["side"], leg=i))
        rig.settlement(FAST).settle(rig.uid, execution.sk)
        self.execution = execution
        self.since = len(rig.server("zerodha").received)
        book = self.engine.arm(rig.uid, execution.sk)
        assert book is not None
        return book

    def book(self) -> Any:
        return self.engine.books.get(
            self.rig.uid, self.now.date().isoformat(), self.rig.strategy_id
        )

    def step(self, seconds: int = 1) -> Any:
        from datetime import timedelta

        self.now += timedelta(seconds=seconds)
        book = self.book()
        self.engine.step(book, self.now)
        return self.book()

    def guards(self) -> list[dict[str, Any]]:
        return self.book().guards

    def orders(self, phase: str | None = None) -> list[Any]:
        items = self.rig.container.executions.orders_of_execution(self.rig.uid, self.execution.sk)
        return sorted(
            (o for o in items if phase is None or o.phase == phase),
            key=lambda o: (o.sent_at or "", o.order_id),
        )

    def placed(self) -> list[dict[str, str]]:
        """Order placements the fake Kite received since the entry (form fields)."""
        return [
            dict(parse_qsl(r.body))
            for r in self.rig.server("zerodha").received[self.since :]
            if r.method == "POST" and r.path.startswith("/orders/")
        ]

    def position(self, leg: int) -> int:
        key = (self.rig.zerodha["id"], canonical_symbol(self.contracts[leg].key))
        return self.rig.positions().get(key, 0)

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        execution = self.rig.container.executions.get_execution(self.rig.uid, self.execution.sk)
        events = self.engine.books.events(execution)
        return [e for e in events if kind is None or e["kind"] == kind]

    def broker_order(self, item: Any) -> Any:
        return self.rig.exchange.order(self.client_id, item.broker_order_id)


SHORT_SL30 = {"side": "SELL", "stop_loss": {"type": "PERCENT", "value": "30"}}


def test_stop_loss_is_placed_at_the_broker_and_fills_there(rig: Rig):
    s = Scenario(rig, [SHORT_SL30], {})
    s.enter()
    lot = s.contracts[0].lot_size
    [stop] = s.orders("STOP")
    at_broker = s.broker_order(stop)
    assert at_broker.status.value == "TRIGGER_PENDING"
    assert at_broker.trigger_price == D("130.00") and at_broker.price > D("130.00")
    assert [(p["transaction_type"], p["order_type"], p["trigger_price"]) for p in s.placed()] == [
        ("BUY", "SL", "130.00")
    ]
    assert s.guards()[0]["broker_stop"] == "130.00" and s.position(0) == -lot

    s.price(0, "131.00")  # the exchange triggers the stop; nobody of ours needs to be alive
    assert s.broker_order(stop).status.value == "COMPLETE"
    figures = s.engine.cycle(s.now)  # the monitor finds the live book through GSI1
    assert figures["books"] >= 1 and figures["failed"] == 0
    [guard] = s.guards()
    assert guard["state"] == "DONE" and guard["reason"] == "STOP_LOSS"
    assert guard["exit_price"] == "131.00"
    assert s.position(0) == 0
    [event] = s.events("stop_loss")
    assert event["price"] == "131.00" and event["trigger"] == "130.00" and event["at_broker"]
    assert len(s.placed()) == 1  # nothing else was sent


def test_target_cancels_the_stop_first_then_closes(rig: Rig):
    s = Scenario(rig, [{**SHORT_SL30, "target": {"type": "POINTS", "value": "20"}}], {})
    s.enter()
    [stop] = s.orders("STOP")
    s.price(0, "79.50")
    s.step()
    assert s.broker_order(stop).status.value == "CANCELLED"
    [close] = s.orders("RISKX")
    assert close.status == "COMPLETE" and D(close.average_price) == D("79.50")
    [guard] = s.guards()
    assert guard["reason"] == "TARGET" and guard["state"] == "DONE"
    assert s.position(0) == 0
    kinds = [p.get("order_type") for p in s.placed()]
    assert kinds == ["SL", "LIMIT"]  # the stop, then the closing order after its cancel
    assert D(s.events("target")[0]["price"]) == D("79.50")


def test_trailing_stop_only_tightens_and_is_modified_at_the_broker(rig: Rig):
    leg = {"side": "SELL", "stop_loss": {"type": "POINTS", "value": "20"},
           "trailing": {"every": "10", "by": "5"}}  # fmt: skip
    s = Scenario(rig, [leg], {})
    s.enter()
    [stop] = s.orders("STOP")
    assert s.broker_order(stop).trigger_price == D("120.00")
    s.price(0, "89.00")
    s.step()
    assert s.broker_order(stop).trigger_price == D("115.00")
    s.price(0, "79.00")
    s.step()
    assert s.broker_order(stop).trigger_price == D("110.00")
    s.price(0, "95.00")  # against us: the stop never loosens
    s.step()
    assert s.broker_order(stop).trigger_price == D("110.00")
    assert s.guards()[0]["stop"] == "110.00" and s.guards()[0]["modifications"] == 2
    s.price(0, "111.00")
    s.step()
    [guard] = s.guards()
    assert guard["reason"] == "STOP_LOSS" and guard["exit_price"] == "111.00"
    assert s.position(0) == 0
    trails = s.events("trail")
    assert [(D(e["price"]), e["stop_to"]) for e in trails] == [
        (D(89), "115.00"),
        (D(79), "110.00"),
    ]
    modifications = [r for r in rig.server("zerodha").received[s.since :] if r.method == "PUT"]
    assert len(modifications) == 2


def test_move_stop_to_cost_when_another_leg_stops(rig: Rig):
    s = Scenario(rig, [SHORT_SL30, SHORT_SL30], {"move_sl_to_cost": True})
    s.enter()
    [second] = [o for o in s.orders("STOP") if o.request["leg"] == 1]
    s.price(1, "95.00")  # the other leg is in profit: its stop can move to cost
    s.price(0, "131.00")
    s.step()
    guards = {g["leg"]: g for g in s.guards()}
    assert guards[0]["reason"] == "STOP_LOSS"
    assert guards[1]["stop"] == "100.00" and guards[1]["state"] == "ARMED"
    s.step()  # the move reaches the broker
    assert s.broker_order(second).trigger_price == D("100.00")
    [moved] = s.events("move_to_cost")
    assert moved["stop_to"] == "100.00" and moved["because"].endswith(":0:0")
    s.price(1, "100.50")
    s.step()
    assert s.position(0) == 0 and s.position(1) == 0
    assert {g["leg"]: g["reason"] for g in s.guards()} == {0: "STOP_LOSS", 1: "STOP_LOSS"}


def test_mtm_stop_loss_exits_every_leg(rig: Rig):
    s = Scenario(rig, [{"side": "SELL"}, {"side": "SELL", "stop_loss": {"type": "POINTS",
                 "value": "50"}}], {"mtm_stop_loss": "1000"})  # fmt: skip
    s.enter()
    lot = s.contracts[0].lot_size
    s.price(0, "110.00")  # loss 10 x lot: below 1000 for lot < 100
    s.step()
    assert s.book().status == "LIVE"
    s.price(0, "125.00")  # loss 25 x lot >= 1000
    s.step()
    book = s.book()
    assert book.status == "DONE" and book.mtm["exited"]["ALL"]["reason"] == "MTM_STOP_LOSS"
    assert s.position(0) == 0 and s.position(1) == 0
    [event] = s.events("mtm_exit")
    assert D(event["mtm"]) == -25 * lot
    # leg 1's stop (150, limit ~154) lies outside the exchange's price band: refused, so the
    # monitor watched it in software and said so
    [refused] = s.orders("STOP")
    assert refused.status == "REJECTED"
    alerts = s.events("alert")
    assert [(a["code"], a["leg"]) for a in alerts] == [("stop_order_refused", 1)], alerts
    assert sorted(p["transaction_type"] for p in s.placed()) == ["BUY", "BUY", "BUY"]
    assert s.guards()[0]["software_stop"] is True


def test_mtm_target_and_lock_and_trail(rig: Rig):
    s = Scenario(rig, [{"side": "SELL"}], {"lock_and_trail": {"reach": "500", "lock": "200"}})
    s.enter()
    lot = s.contracts[0].lot_size
    s.price(0, "90.00")  # profit 10 x lot >= 500: the floor of 200 is locked
    s.step()
    assert s.book().status == "LIVE" and D(s.book().mtm["peak"]["ALL"]) == 10 * lot
    s.price(0, "98.00")  # profit 2 x lot <= 200: exit on the locked profit
    s.step()
    assert s.book().mtm["exited"]["ALL"]["reason"] == "MTM_LOCKED_PROFIT"
    assert s.position(0) == 0

    t = Scenario(rig, [{"side": "SELL"}], {"mtm_target": "500"})
    t.enter()
    t.price(0, "90.00")
    t.step()
    assert t.book().mtm["exited"]["ALL"]["reason"] == "MTM_TARGET" and t.position(0) == 0


def test_re_entry_at_cost_respects_the_maximum(rig: Rig):
    leg = {"side": "SELL", "stop_loss": {"type": "POINTS", "value": "10"},
           "re_entry": {"mode": "RE_COST", "max_count": 1}}  # fmt: skip
    s = Scenario(rig, [leg], {})
    s.enter()
    lot = s.contracts[0].lot_size
    s.price(0, "111.00")
    s.step()  # stop filled at the broker: out, waiting for the premium to return to 100
    assert s.guards()[0]["state"] == "WAITING" and s.position(0) == 0
    s.price(0, "105.00")
    s.step()
    assert s.guards()[0]["state"] == "WAITING"
    s.price(0, "100.00")
    s.step()
    guards = s.guards()
    assert [g["state"] for g in guards] == ["DONE", "ARMED"]
    assert D(guards[1]["entry_price"]) == 100 and guards[1]["re_entries"] == 1
    assert s.position(0) == -lot and len(s.orders("STOP")) == 2
    s.price(0, "111.00")
    s.step()
    s.price(0, "100.00")
    s.step()
    s.step()
    assert [g["state"] for g in s.guards()] == ["DONE", "DONE"]  # the maximum was one
    assert s.position(0) == 0
    sides = [p["transaction_type"] for p in s.placed()]
    assert sides == ["BUY", "SELL", "BUY"]  # stop, re-entry, stop; no second re-entry


def test_broker_cancelled_stop_falls_back_to_closing_at_once(rig: Rig):
    s = Scenario(rig, [SHORT_SL30], {})
    s.enter()
    rig.server("zerodha").inject(s.client_id, "sl_cancelled")
    # the fault applies to the next stop order: cancel ours and let the monitor re-place it
    [first] = s.orders("STOP")
    rig.settlement(FAST).cancel_open(rig.uid, [first])
    s.step()
    [lost] = s.events("stop_order_lost")
    assert lost["orders"] == [first.order_id]
    second = s.orders("STOP")[-1]
    assert second.order_id != first.order_id
    s.price(0, "131.00")  # the broker cancels this stop when it triggers (RMS)
    assert s.broker_order(second).status.value == "CANCELLED"
    s.step()
    assert s.position(0) == 0
    [guard] = s.guards()
    assert guard["reason"] == "STOP_LOSS" and guard["replacements"] == 2
    assert s.orders("RISKX")[0].status == "COMPLETE"


def test_exit_time_cancels_a_pending_stop_then_closes(rig: Rig):
    s = Scenario(rig, [SHORT_SL30, SHORT_SL30], {})
    s.enter()
    lot = s.contracts[0].lot_size
    stops = s.orders("STOP")
    c = rig.container
    children, errors = rig.closer().exit_orders(rig.uid, rig.strategy_id)
    assert not errors and len(children) == 2
    s.price(0, "131.00")  # leg 0's stop fills after the exit orders were planned
    exit_execution = rig.execution("EXIT")
    items = [
        order_item(rig.uid, exit_execution.sk, rig.strategy_id, "EXIT", child, c.clock())
        for child in children
    ]
    c.executions.put_orders(items)
    firer = Firer(
        adapter_for=c.broker_access.adapter,
        market=c.market,
        executions=c.executions,
        before_send=ExitGuard(s.engine, c.leases, s.engine.settlement),
    )
    counts = firer.fire(items)
    assert counts == {"sent": 1, "failed": 0, "skipped": 0}
    [pending] = [o for o in stops if o.request["leg"] == 1]
    assert s.broker_order(pending).status.value == "CANCELLED"  # cancelled before the exit
    by_leg = {ChildKey(o): o for o in c.executions.orders_of_execution(rig.uid, exit_execution.sk)}
    assert by_leg[canonical_symbol(s.contracts[0].key)].status == "CANCELLED"  # never sent
    rig.settlement(FAST).settle(rig.uid, exit_execution.sk)
    assert s.position(0) == 0 and s.position(1) == 0  # leg 0 not bought twice
    assert lot > 0


def ChildKey(order: Any) -> str:
    from chalicelib.services.order_builder import ChildOrder

    return canonical_symbol(ChildOrder.from_dict(order.request).key)


def test_kill_switch_freezes_the_book_before_squaring_off(rig: Rig):
    leg = {**SHORT_SL30, "re_entry": {"mode": "RE_ASAP", "max_count": 3}}
    s = Scenario(rig, [leg], {})
    s.enter()
    [stop] = s.orders("STOP")
    engaged = rig.api.call("POST", "/kill-switch", {"scope": "strategy", "id": rig.strategy_id})
    assert engaged.status_code == 202, engaged.body
    assert s.broker_order(stop).status.value == "CANCELLED", s.broker_order(stop)
    assert s.position(0) == 0
    assert s.book().status == "DONE" and s.guards()[0]["reason"] == "KILL_SWITCH"
    s.price(0, "140.00")
    s.step()
    assert len(s.orders("STOP")) == 1 and not s.orders("REENTRY")  # nothing re-placed


def test_two_monitors_act_once(rig: Rig):
    s = Scenario(rig, [{**SHORT_SL30, "target": {"type": "POINTS", "value": "20"}}], {})
    s.enter()
    s.price(0, "79.00")
    books = [s.book(), s.book()]
    barrier = threading.Barrier(2)

    def run(book: Any) -> None:
        barrier.wait()
        s.engine.step(book, s.now)

    threads = [threading.Thread(target=run, args=(b,)) for b in books]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    s.step()
    assert len(s.orders("RISKX")) == 1
    assert s.position(0) == 0
    assert [p["transaction_type"] for p in s.placed()] == ["BUY", "BUY"]  # stop, one close


def test_risk_events_are_visible_through_the_api_and_only_to_their_owner(rig: Rig, client):
    from chalicelib.api.executions import execution_id
    from tests.integration.conftest import sign_up

    s = Scenario(rig, [SHORT_SL30], {})
    s.enter()
    s.price(0, "131.00")
    s.step()
    entry = rig.api.call("GET", f"/executions/{execution_id(s.execution.sk)}")
    assert entry.status_code == 200, entry.body
    [guard] = entry.data["risk"]["guards"]
    assert guard["reason"] == "STOP_LOSS" and guard["exit_price"] == "131.00"
    kinds = [e["kind"] for e in entry.data["events"]]
    assert kinds.index("stop_placed") < kinds.index("stop_loss")
    phases = sorted(o["phase"] for o in entry.data["orders"])
    assert phases == ["ENTRY", "STOP"]
    listed = rig.api.call("GET", "/risk")
    [book] = [b for b in listed.data["items"] if b["strategy_id"] == rig.strategy_id]
    assert [e["kind"] for e in book["events"]][-1] == "stop_loss"
    assert book["events"][-1]["price"] == "131.00"
    other, _uid = sign_up(client, "Other Trader")
    assert other.call("GET", "/risk").data["items"] == []
    assert other.call("GET", f"/executions/{execution_id(s.execution.sk)}").status_code == 404


def test_per_account_mtm_exits_only_that_account(rig: Rig):
    s = Scenario(rig, [SHORT_SL30], {"mtm_stop_loss": "500", "mtm_scope": "ACCOUNT"})
    s.enter()
    s.price(0, "120.00")  # loss 20 x lot on this account
    s.step()
    book = s.book()
    account = rig.zerodha["id"]
    assert book.mtm["exited"][account]["reason"] == "MTM_STOP_LOSS"
    assert book.status == "LIVE"  # the book stays live for the strategy's other accounts
    assert [g["state"] for g in book.guards] == ["DONE"] and s.position(0) == 0
    assert s.orders("STOP")[0].status == "CANCELLED"
    s.price(0, "140.00")
    s.step()
    assert len(s.orders("RISKX")) == 1  # exited once


def test_re_entry_asap_stops_at_the_no_re_entry_time(rig: Rig):
    leg = {"side": "SELL", "stop_loss": {"type": "POINTS", "value": "10"},
           "re_entry": {"mode": "RE_ASAP", "max_count": 5}}  # fmt: skip
    s = Scenario(rig, [leg], {"no_re_entry_after": "10:00:30"})
    s.enter()
    lot = s.contracts[0].lot_size
    s.price(0, "111.00")
    s.step()  # stopped out and re-entered at once, at the market
    guards = s.guards()
    assert [g["state"] for g in guards] == ["DONE", "ARMED"]
    assert D(guards[1]["entry_price"]) == D("111.00") and guards[1]["stop"] == "121.00"
    assert s.position(0) == -lot
    s.price(0, "122.00")
    s.step(seconds=60)  # 10:01:01: past the cut-off, no further re-entry
    assert [g["state"] for g in s.guards()] == ["DONE", "DONE"]
    assert s.position(0) == 0
    assert [e["kind"] for e in s.events() if e["kind"].startswith("re_")] == [
        "re_entry_waiting",
        "re_entered",
    ]


def test_past_the_modification_cap_a_stop_is_cancelled_and_placed_anew(rig: Rig):
    from chalicelib.domain.broker_support import BrokerSupport

    capped = BrokerSupport("zerodha", datetime(2025, 1, 1).date(), True, True, 1)
    leg = {"side": "SELL", "stop_loss": {"type": "POINTS", "value": "20"},
           "trailing": {"every": "10", "by": "5"}}  # fmt: skip
    s = Scenario(rig, [leg], {})
    s.engine.capabilities = lambda broker: capped  # a broker that takes one modification
    s.enter()
    [first] = s.orders("STOP")
    s.price(0, "89.00")
    s.step()  # one modification: 120 -> 115
    assert s.broker_order(first).trigger_price == D("115.00")
    s.price(0, "79.00")
    s.step()  # the cap is reached: cancel instead of a second modification
    assert s.broker_order(first).status.value == "CANCELLED"
    s.step()  # placed anew at the trailed stop
    stops = s.orders("STOP")
    assert len(stops) == 2 and s.broker_order(stops[-1]).trigger_price == D("110.00")
    [guard] = s.guards()
    assert guard["replacements"] == 0 and not s.events("stop_order_lost")
    assert guard["broker_stop"] == "110.00" and s.position(0) == -s.contracts[0].lot_size
