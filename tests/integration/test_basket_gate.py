"""The basket gate (issue #10, reproduction 6): a disabled basket never enters, whatever races.

Creating into, disabling and deleting a basket are serialised by transaction conditions on the
basket item; the planner checks the flag again at plan time; a strategy whose basket is gone can
still be paused and deleted.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from chalicelib.adapters.dynamo.models import BaseItem, BasketItem, ScheduleItem, StrategyItem
from chalicelib.api.strategy_schemas import StrategyIn
from chalicelib.domain.calendar import IST
from chalicelib.errors import Conflict, DomainError
from tests.factories import four_leg_strategy

CREATES = 20


def _uid(api) -> str:
    return api.call("GET", "/me").data["id"]


def _strategy(setup: dict[str, Any], **overrides: Any):
    body = four_leg_strategy(setup["basket"], setup["a1"], setup["a2"], **overrides)
    return StrategyIn.model_validate(body).to_domain()


def _race(actions: list[Callable[[], Any]]) -> list[Any]:
    """Run every action in its own thread, released together; results or exceptions."""
    start = threading.Barrier(len(actions))
    results: list[Any] = [None] * len(actions)

    def run(n: int) -> None:
        start.wait()
        try:
            results[n] = actions[n]()
        except Exception as error:  # collected and asserted by the test
            results[n] = error

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(actions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def _until_done(action: Callable[[], Any]) -> Any:
    """What a client does on 409 from a lost race: try again."""
    for _ in range(20):
        try:
            return action()
        except Conflict as error:
            if error.code == "basket_not_empty":
                raise
    raise AssertionError("never won the race")


@pytest.mark.parametrize("round_", range(3))
def test_disable_racing_twenty_creates_leaves_nothing_scheduled(setup, container, round_):
    uid, basket_id = _uid(setup["api"]), setup["basket"]
    strategy = _strategy(setup)
    creates = [lambda: container.strategies.create(uid, strategy) for _ in range(CREATES)]

    def disable() -> Any:
        return _until_done(
            lambda: container.baskets.update(uid, basket_id, name=None, enabled=False, version=None)
        )

    results = _race([*creates[: CREATES // 2], disable, *creates[CREATES // 2 :]])
    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == []
    assert container.repo.get_basket(uid, basket_id).enabled == 0
    strategies = container.repo.strategies_of_basket(uid, basket_id)
    assert len(strategies) == CREATES
    schedule = container.repo.user_schedule(uid)
    assert {s.strategy_id for s in schedule if s.phase == "ENTRY"} == set()
    # only exits remain scheduled (they close what is held, which here is nothing)
    assert {s.phase for s in schedule} <= {"EXIT"}


def test_delete_racing_creates_leaves_no_orphan(setup, container):
    uid, basket_id = _uid(setup["api"]), setup["basket"]
    strategy = _strategy(setup)

    def delete() -> Any:
        try:
            return container.baskets.delete(uid, basket_id)
        except DomainError as error:
            return error

    creates = [lambda: container.strategies.create(uid, strategy) for _ in range(CREATES)]
    results = _race([*creates[:3], delete, *creates[3:]])
    basket = container.repo.find_basket(uid, basket_id)
    strategies = container.repo.strategies_of_basket(uid, basket_id)
    if basket is None:  # the delete won: every create after it was refused
        assert strategies == []
        assert all(isinstance(r, DomainError) for r in results if r is not None)
    else:  # a create won: the delete was refused and every created strategy has its basket
        assert results[3].code == "basket_not_empty"
        assert len(strategies) == sum(1 for r in results if hasattr(r, "strategy_id"))
    refused = [r for r in results if isinstance(r, DomainError)]
    assert all(r.status in (400, 409) for r in refused)


def test_a_strategy_is_indexed_under_the_basket_it_is_in(setup, container):
    """GSI1 lists a basket's strategies: the store keys it from the strategy's basket on every
    write, so a moved strategy leaves the old basket's listing."""
    uid, first = _uid(setup["api"]), setup["basket"]
    second = setup["api"].call("POST", "/baskets", {"name": "Other", "enabled": True}).data["id"]
    item = container.strategies.create(uid, _strategy(setup))

    def listed(basket_id: str) -> set[str]:
        key = StrategyItem.basket_index_key(uid, basket_id)[0]
        return {i.strategy_id for i in BaseItem.gsi1.query(key) if isinstance(i, StrategyItem)}

    assert item.strategy_id in listed(first)
    container.strategies.replace(
        uid, item.strategy_id, _strategy({**setup, "basket": second}), version=None
    )
    assert item.strategy_id in listed(second) and item.strategy_id not in listed(first)


# ----- the plan-time check -----------------------------------------------------------------------
SLOT = datetime(2026, 12, 2, 11, 37, tzinfo=IST)  # a Wednesday and a trading day


def _flip(uid: str, basket_id: str, enabled: int) -> None:
    """Change the flag behind the service's back: a schedule item outlives it (old data, a
    partial rewrite). The planner must still refuse the entry."""
    basket = BasketItem.get(*BasketItem.key(uid, basket_id))
    basket.update(actions=[BasketItem.enabled.set(enabled)])


def _planned(container, uid: str, strategy_id: str, slot: datetime):
    plan = container.planner.plan(slot)
    [mine] = [e for e in plan.executions if e.uid == uid and e.strategy_id == strategy_id]
    return mine


def test_planner_skips_entries_of_a_disabled_basket(setup, container):
    uid, basket_id = _uid(setup["api"]), setup["basket"]
    item = container.strategies.create(
        uid, _strategy(setup, entry={"time": "11:37:00", "days": ["WED"]})
    )
    assert container.repo.schedule_of_strategy(uid, item.strategy_id)
    _flip(uid, basket_id, 0)
    skipped = _planned(container, uid, item.strategy_id, SLOT)
    assert skipped.orders == []
    assert skipped.errors == [
        {"code": "basket_closed", "message": "the strategy's basket is disabled"}
    ]
    execution = container.executions.get_execution(uid, skipped.execution_sk)
    assert execution.status == "SKIPPED"
    _flip(uid, basket_id, 1)
    next_week = SLOT.replace(day=9)
    opened = _planned(container, uid, item.strategy_id, next_week)
    assert all(e["code"] != "basket_closed" for e in opened.errors)


def test_a_strategy_whose_basket_is_gone_never_enters_and_can_be_removed(setup, container):
    uid, basket_id = _uid(setup["api"]), setup["basket"]
    item = container.strategies.create(
        uid, _strategy(setup, entry={"time": "11:37:00", "days": ["WED"]})
    )
    BasketItem.get(*BasketItem.key(uid, basket_id)).delete()  # an orphan, as older releases left
    skipped = _planned(container, uid, item.strategy_id, SLOT)
    assert skipped.errors[0]["code"] == "basket_closed"
    api = setup["api"]
    paused = api.call("POST", f"/strategies/{item.strategy_id}/pause", {})
    assert paused.status_code == 200, paused.body
    assert container.repo.schedule_of_strategy(uid, item.strategy_id) == []
    resumed = api.call("POST", f"/strategies/{item.strategy_id}/resume", {})
    assert resumed.status_code == 200, resumed.body
    assert container.repo.schedule_of_strategy(uid, item.strategy_id) == []  # no basket: idle
    assert api.call("DELETE", f"/strategies/{item.strategy_id}").status_code == 204
    assert ScheduleItem.count(f"USER#{uid}", ScheduleItem.sk.startswith("SCHED#")) == 0
