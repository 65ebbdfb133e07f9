"""The planner's decisions on an in-memory store (tests/fakes/planning.py): the exactly-once
gate, a gate lost to another planner, what is recorded when a write fails, the accounts that
cannot trade, and a slot planned in parts giving the same orders as one planner."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from chalicelib.adapters.market.synthetic_quotes import SyntheticQuotes
from chalicelib.api.strategy_schemas import StrategyIn
from chalicelib.domain.calendar import IST
from chalicelib.domain.market_model import MarketModel
from chalicelib.domain.schedule import schedule_entries
from chalicelib.services.order_builder import OrderBuilder
from chalicelib.services.parallel_plan import plan_in_parts
from chalicelib.services.planner import Planner
from tests.factories import four_leg_strategy
from tests.fakes.planning import FakePlanStore
from tests.fakes.records import Schedule

SLOT = datetime(2026, 11, 25, 10, 0, tzinfo=IST)  # a Wednesday, a trading day
TODAY = SLOT.date().isoformat()
MARKET = MarketModel()
# uids shaped like Cognito subs, one in each quarter of the hex digits
USERS = ["1b0c8a2e-uid", "5d7e9f10-uid", "9a3b4c5d-uid", "e0f1a2b3-uid"]


def _due(store: FakePlanStore, uid: str, strategy_id: str, basket: str = "B") -> None:
    """A four-leg entry at 10:00 on Wednesdays: 4 orders on a1, 3 x2 lots on a2 (7 orders)."""
    body = four_leg_strategy(basket, "a1", "a2")
    body["entry"] = {"time": "10:00:00", "days": ["WED"]}
    strategy = StrategyIn.model_validate(body).to_domain()
    for entry in schedule_entries(strategy_id, strategy):
        if entry.phase.value == "ENTRY":
            store.schedule.setdefault(("WED", entry.hhmm), []).append(
                Schedule(sk=f"SCHED#{strategy_id}#ENTRY#WED", uid=uid, strategy_id=strategy_id,
                         phase="ENTRY", fire_time=entry.fire_time, strategy_version=1,
                         payload={**entry.payload, "basket_id": basket})
            )  # fmt: skip


def _store(users: list[str], strategies: int = 1) -> FakePlanStore:
    store = FakePlanStore()
    for uid in users:
        store.add_account(uid, "a1", "zerodha", (SLOT + timedelta(hours=20)).isoformat())
        store.add_account(uid, "a2", "fyers", (SLOT + timedelta(hours=20)).isoformat())
        for n in range(strategies):
            _due(store, uid, f"s{n}")
    return store


def _planner(store: FakePlanStore, **hooks) -> Planner:
    builder = OrderBuilder(MARKET, SyntheticQuotes())
    return Planner(store, builder, owner="test", workers=1, **hooks)


def _execution(store: FakePlanStore, uid: str, strategy_id: str):
    return store.executions[(uid, f"EXEC#{TODAY}#{strategy_id}#ENTRY")]


def test_a_due_entry_is_built_once_and_a_second_plan_builds_nothing():
    store = _store(USERS[:1])
    first = _planner(store).plan(SLOT)
    [planned] = first.executions
    assert len(planned.orders) == 7 and len(store.orders) == 7
    assert {o.status for o in store.orders.values()} == {"BUILT"}
    execution = _execution(store, USERS[0], "s0")
    assert execution.status == "PLANNED" and execution.summary["orders"] == 7
    again = _planner(store).plan(SLOT)  # a retry, a duplicate trigger, a second clock
    assert again.executions == [] and again.stats["duplicates"] == 1
    assert len(store.orders) == 7 and store.writes.count(("gate", USERS[0], execution.sk)) == 1


def test_a_gate_held_by_another_planner_sends_nothing():
    store = _store(USERS[:1])
    store.take_gate(USERS[0], TODAY, "s0", "ENTRY")
    plan = _planner(store).plan(SLOT)
    assert plan.executions == [] and plan.orders == [] and store.orders == {}
    assert plan.stats["duplicates"] == 1
    assert _execution(store, USERS[0], "s0").owner == "elsewhere"


def test_a_users_entries_are_written_together_each_before_its_summary():
    store = _store(USERS[:1], strategies=3)
    plan = _planner(store).plan(SLOT)
    assert len(plan.executions) == 3 and len(plan.orders) == 21
    orders = [w for w in store.writes if w[0] == "orders"]
    assert len(orders) == 1  # 21 orders: one write instead of one per execution
    written_at = store.writes.index(orders[0])
    summaries = [i for i, w in enumerate(store.writes) if w[0] == "summary"]
    assert len(summaries) == 3 and min(summaries) > written_at  # PLANNED only once stored
    gates = [i for i, w in enumerate(store.writes) if w[0] == "gate"]
    assert max(gates) < written_at  # every order written holds a gate


def test_orders_that_cannot_be_stored_skip_the_entry_with_the_reason():
    store = _store(USERS[:1], strategies=2)
    store.orders_unreachable = True
    plan = _planner(store).plan(SLOT)
    assert plan.orders == [] and len(plan.executions) == 2
    for strategy_id in ("s0", "s1"):
        execution = _execution(store, USERS[0], strategy_id)
        assert execution.status == "SKIPPED"  # recovery never sends a SKIPPED one's orders
        assert execution.summary["reason"].startswith("storage_unavailable:")


def test_a_summary_that_fails_is_counted_and_spares_the_others():
    store = _store(USERS[:1], strategies=3)
    store.summary_fails_for = {"s1"}
    plan = _planner(store).plan(SLOT)
    assert sorted(e.strategy_id for e in plan.executions) == ["s0", "s2"]
    assert plan.stats["failed"] == 1
    assert _execution(store, USERS[0], "s1").summary is None  # left PLANNED without a summary
    assert _execution(store, USERS[0], "s2").status == "PLANNED"


def test_an_account_without_a_session_is_reported_and_the_other_still_trades():
    store = _store(USERS[:1])
    del store.sessions[(USERS[0], "a2")]
    [planned] = _planner(store).plan(SLOT).executions
    assert {o.account_id for o in planned.orders} == {"a1"} and len(planned.orders) == 4
    assert planned.errors == [
        {
            "account_id": "a2",
            "code": "account_unusable",
            "message": "no broker session: log in today",
        }
    ]


def test_a_kill_switch_refuses_the_entry_on_its_account_only():
    store = _store(USERS[:1])
    checks = []

    def kill_switch(uid):
        checks.append(uid)  # read once per user and tick
        return lambda strategy_id, account_id: "kill switch engaged" if account_id == "a1" else None

    [planned] = _planner(store, kill_switch=kill_switch).plan(SLOT).executions
    assert {o.account_id for o in planned.orders} == {"a2"}
    assert planned.errors[0]["message"] == "kill switch engaged" and checks == [USERS[0]]


def test_a_closed_basket_skips_the_entry_with_the_reason():
    store = _store(USERS[:1])
    store.closed[(USERS[0], "s0")] = "the basket is disabled"
    [planned] = _planner(store).plan(SLOT).executions
    assert planned.orders == [] and store.orders == {}
    execution = _execution(store, USERS[0], "s0")
    assert execution.status == "SKIPPED"
    assert execution.summary["reason"] == "basket_closed: the basket is disabled"


def test_a_slot_planned_in_parts_builds_what_one_planner_builds():
    whole_store, parted_store = _store(USERS, 2), _store(USERS, 2)
    whole = _planner(whole_store).plan(SLOT)
    parted = plan_in_parts(_planner(parted_store), SLOT, 4)
    assert [(e.uid, e.strategy_id) for e in parted.executions] == [
        (e.uid, e.strategy_id) for e in whole.executions
    ]
    assert set(parted_store.orders) == set(whole_store.orders) and len(whole_store.orders) == 56
    assert [o.request for o in parted.orders] == [o.request for o in whole.orders]
    assert parted.stats["due"] == whole.stats["due"] == 8
    assert parted.batches(max_batches=40) == whole.batches(max_batches=40)


def test_a_failed_part_leaves_the_other_parts_planned():
    class OnePartDown(FakePlanStore):
        def read_slot(self, weekday, hhmm, part):
            if part is not None and part.index == 1:
                raise ConnectionError("this part's Lambda lost the table")
            return super().read_slot(weekday, hhmm, part)

    store = OnePartDown()
    for uid in USERS:
        store.add_account(uid, "a1", "zerodha", (SLOT + timedelta(hours=20)).isoformat())
        store.add_account(uid, "a2", "fyers", (SLOT + timedelta(hours=20)).isoformat())
        _due(store, uid, "s0")
    plan = plan_in_parts(_planner(store), SLOT, 4)
    assert sorted(e.uid for e in plan.executions) == [USERS[0], USERS[2], USERS[3]]
    assert plan.stats["plan_failed"] == 1


@pytest.mark.parametrize("parts", [1, 4])
def test_every_part_down_fails_the_plan(parts):
    class Down(FakePlanStore):
        def read_slot(self, weekday, hhmm, part):
            raise ConnectionError("no table")

    with pytest.raises(ConnectionError):
        plan_in_parts(_planner(Down()), SLOT, parts)


def test_an_entry_whose_every_leg_waits_is_waiting_and_arms_its_book_once():
    store = _store([])
    uid = USERS[0]
    store.add_account(uid, "a1", "zerodha", (SLOT + timedelta(hours=20)).isoformat())
    store.add_account(uid, "a2", "fyers", (SLOT + timedelta(hours=20)).isoformat())
    body = four_leg_strategy("B", "a1", "a2")
    body["entry"] = {"time": "10:00:00", "days": ["WED"]}
    body["legs"] = body["legs"][:1]
    body["legs"][0]["wait_and_trade"] = {"direction": "UP", "type": "PERCENT", "value": "10",
                                         "until": "10:30:00"}  # fmt: skip
    strategy = StrategyIn.model_validate(body).to_domain()
    [entry] = [e for e in schedule_entries("w", strategy) if e.phase.value == "ENTRY"]
    store.schedule[("WED", "1000")] = [
        Schedule(sk="SCHED#w#ENTRY#WED", uid=uid, strategy_id="w", phase="ENTRY",
                 fire_time=entry.fire_time, strategy_version=1,
                 payload={**entry.payload, "basket_id": "B"})
    ]  # fmt: skip
    _due(store, uid, "s0")  # and an ordinary entry of the same user, written with its orders
    armed = []
    plan = _planner(store, on_waiting=lambda u, sk: armed.append((u, sk))).plan(SLOT)
    waiting = next(e for e in plan.executions if e.strategy_id == "w")
    assert waiting.orders == [] and waiting.errors == []
    assert _execution(store, uid, "w").status == "WAITING"
    assert armed == [(uid, waiting.execution_sk)]
    assert _execution(store, uid, "s0").status == "PLANNED"
