"""Strategy and basket decisions over the in-memory stores: what ends up scheduled.

The invariant: a strategy never ends with entries scheduled in a disabled basket, whatever
interleaves with its write; exits stay scheduled while it is paused or its basket disabled.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from chalicelib.api.strategy_schemas import StrategyIn
from chalicelib.domain.calendar import IST
from chalicelib.domain.strategy import StrategyStatus
from chalicelib.errors import ConcurrentChange, Conflict, ValidationFailed
from chalicelib.services.baskets import BasketService
from chalicelib.services.strategies import StrategyService
from tests.factories import four_leg_strategy
from tests.fakes.accounts import MemoryAccounts

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=IST)  # a Wednesday before the open
UID = "u1"


@pytest.fixture
def store() -> MemoryAccounts:
    store = MemoryAccounts(clock=lambda: NOW)
    for account_id in ("A1", "A2"):
        store.create_account(UID, account_id, broker="zerodha", client_id=f"C{account_id}",
                             label=account_id, static_ip_note=None, secret_blob=None,
                             quote_account_id=None)  # fmt: skip
    return store


@pytest.fixture
def strategies(store: MemoryAccounts) -> StrategyService:
    return StrategyService(store, lambda: NOW)


@pytest.fixture
def baskets(store: MemoryAccounts) -> BasketService:
    return BasketService(store)


def spec(basket_id: str, **overrides):
    body = four_leg_strategy(basket_id, "A1", "A2", **overrides)
    return StrategyIn.model_validate(body).to_domain()


def phases(store: MemoryAccounts, strategy_id: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in store.schedule_of_strategy(UID, strategy_id):
        counts[entry.phase] = counts.get(entry.phase, 0) + 1
    return counts


def test_an_active_strategy_in_an_enabled_basket_enters_and_exits_on_its_days(store, strategies,
                                                                              baskets):  # fmt: skip
    basket = baskets.create(UID, "weekly", enabled=True)
    item = strategies.create(UID, spec(basket.basket_id))
    assert phases(store, item.strategy_id) == {"ENTRY": 5, "EXIT": 5}
    assert item.version == 1
    assert store.get_basket(UID, basket.basket_id).version == 2  # joining bumped it


def test_a_strategy_created_in_a_disabled_basket_keeps_only_its_exits(store, strategies, baskets):
    basket = baskets.create(UID, "paused", enabled=False)
    item = strategies.create(UID, spec(basket.basket_id))
    assert phases(store, item.strategy_id) == {"EXIT": 5}


def test_an_unknown_basket_or_account_is_refused_before_anything_is_written(store, strategies):
    writes = store.writes
    with pytest.raises(ValidationFailed) as error:
        strategies.create(UID, spec("nope"))
    assert error.value.field == "basket_id" and store.writes == writes


def test_a_basket_disabled_while_the_strategy_is_written_wins_and_the_write_is_redone(
    store, strategies, baskets
):
    basket = baskets.create(UID, "weekly", enabled=True)

    def disable_meanwhile() -> None:
        stored = store.baskets[(UID, basket.basket_id)]
        stored.enabled, stored.version = 0, (stored.version or 0) + 1

    store.before_next_write(disable_meanwhile)
    item = strategies.create(UID, spec(basket.basket_id))
    assert phases(store, item.strategy_id) == {"EXIT": 5}  # no entry in a disabled basket
    assert len(store.list_strategies(UID)) == 1


def test_a_create_that_committed_before_its_answer_was_lost_is_not_created_twice(
    store, strategies, baskets
):
    basket = baskets.create(UID, "weekly", enabled=True)
    store.commit_then_fail()
    item = strategies.create(UID, spec(basket.basket_id))
    assert [s.strategy_id for s in store.list_strategies(UID)] == [item.strategy_id]
    assert item.version == 1


def test_a_stale_version_from_the_caller_is_a_conflict_and_is_not_retried(
    store, strategies, baskets
):
    basket = baskets.create(UID, "weekly", enabled=True)
    item = strategies.create(UID, spec(basket.basket_id))
    writes = store.writes
    with pytest.raises(Conflict) as error:
        strategies.replace(UID, item.strategy_id, spec(basket.basket_id), version=7)
    assert not isinstance(error.value, ConcurrentChange)
    assert store.writes == writes and store.get_strategy(UID, item.strategy_id).version == 1


def test_a_concurrent_edit_makes_a_pinned_replace_fail_rather_than_overwrite(
    store, strategies, baskets
):
    basket = baskets.create(UID, "weekly", enabled=True)
    item = strategies.create(UID, spec(basket.basket_id))

    def edit_meanwhile() -> None:
        store.strategies[(UID, item.strategy_id)].version = 2

    store.before_next_write(edit_meanwhile)
    with pytest.raises(Conflict):  # re-read: version 2 is not the 1 the caller pinned
        strategies.replace(UID, item.strategy_id, spec(basket.basket_id, name="x"), version=1)
    assert store.get_strategy(UID, item.strategy_id).spec["name"] != "x"


def test_pausing_keeps_the_exits_and_resuming_brings_the_entries_back(store, strategies, baskets):
    basket = baskets.create(UID, "weekly", enabled=True)
    item = strategies.create(UID, spec(basket.basket_id))
    strategies.set_status(UID, item.strategy_id, StrategyStatus.PAUSED)
    assert phases(store, item.strategy_id) == {"EXIT": 5}
    strategies.set_status(UID, item.strategy_id, StrategyStatus.ACTIVE)
    assert phases(store, item.strategy_id) == {"ENTRY": 5, "EXIT": 5}
    assert store.get_strategy(UID, item.strategy_id).version == 3


def test_moving_a_strategy_follows_the_new_baskets_flag(store, strategies, baskets):
    on = baskets.create(UID, "on", enabled=True)
    off = baskets.create(UID, "off", enabled=False)
    item = strategies.create(UID, spec(on.basket_id))
    moved = strategies.replace(UID, item.strategy_id, spec(off.basket_id), version=1)
    assert moved.basket_id == off.basket_id
    assert phases(store, item.strategy_id) == {"EXIT": 5}
    assert store.get_basket(UID, off.basket_id).version == 2  # the move joined it
    assert [e.payload["basket_id"] for e in store.schedule_of_strategy(UID, item.strategy_id)] == [
        off.basket_id
    ] * 5


def test_disabling_a_basket_unschedules_every_entry_of_its_strategies(store, strategies, baskets):
    basket = baskets.create(UID, "weekly", enabled=True)
    first = strategies.create(UID, spec(basket.basket_id))
    second = strategies.create(UID, spec(basket.basket_id))
    baskets.update(UID, basket.basket_id, name=None, enabled=False, version=None)
    assert phases(store, first.strategy_id) == phases(store, second.strategy_id) == {"EXIT": 5}
    baskets.update(UID, basket.basket_id, name=None, enabled=True, version=None)
    assert phases(store, first.strategy_id) == {"ENTRY": 5, "EXIT": 5}


def test_a_strategy_joining_while_the_basket_is_disabled_is_unscheduled_too(
    store, strategies, baskets
):
    basket = baskets.create(UID, "weekly", enabled=True)
    strategies.create(UID, spec(basket.basket_id))
    joined: list[str] = []

    def join_meanwhile() -> None:  # another request creates a strategy in the basket
        joined.append(strategies.create(UID, spec(basket.basket_id)).strategy_id)

    store.before_next_write(join_meanwhile)
    baskets.update(UID, basket.basket_id, name=None, enabled=False, version=None)
    assert joined and phases(store, joined[0]) == {"EXIT": 5}
    assert store.get_basket(UID, basket.basket_id).enabled == 0


def test_a_rename_leaves_the_schedules_alone(store, strategies, baskets):
    basket = baskets.create(UID, "weekly", enabled=True)
    item = strategies.create(UID, spec(basket.basket_id))
    before = store.schedule_of_strategy(UID, item.strategy_id)
    renamed = baskets.update(UID, basket.basket_id, name="monthly", enabled=None, version=2)
    assert renamed.name == "monthly" and renamed.version == 3
    assert store.schedule_of_strategy(UID, item.strategy_id) == before


def test_a_basket_with_strategies_is_not_deleted_even_if_one_joins_during_the_delete(
    store, strategies, baskets
):
    empty = baskets.create(UID, "empty", enabled=True)
    baskets.delete(UID, empty.basket_id)
    assert store.find_basket(UID, empty.basket_id) is None

    basket = baskets.create(UID, "weekly", enabled=True)
    store.before_next_write(lambda: strategies.create(UID, spec(basket.basket_id)))
    # the delete read no strategy, but one joined (bumping the version): the retry sees it
    with pytest.raises(Conflict) as error:
        baskets.delete(UID, basket.basket_id)
    assert error.value.code == "basket_not_empty"
    assert store.find_basket(UID, basket.basket_id) is not None


def test_a_strategy_whose_basket_is_gone_can_be_paused_and_deleted_and_schedules_nothing(
    store, strategies, baskets
):
    basket = baskets.create(UID, "weekly", enabled=True)
    item = strategies.create(UID, spec(basket.basket_id))
    del store.baskets[(UID, basket.basket_id)]  # left by an older release
    strategies.set_status(UID, item.strategy_id, StrategyStatus.ACTIVE)
    assert phases(store, item.strategy_id) == {}
    strategies.delete(UID, item.strategy_id)
    assert store.find_strategy(UID, item.strategy_id) is None


def test_another_users_strategy_is_not_found(store, strategies, baskets):
    basket = baskets.create(UID, "weekly", enabled=True)
    item = strategies.create(UID, spec(basket.basket_id))
    with pytest.raises(Exception) as error:
        strategies.get("u2", item.strategy_id)
    assert type(error.value).__name__ == "NotFound"


def test_the_schedule_view_answers_the_callers_share_only(store, strategies, baskets):
    from chalicelib.services.schedule_view import ScheduleView

    basket = baskets.create(UID, "weekly", enabled=True)
    mine = strategies.create(UID, spec(basket.basket_id))
    store.create_account("u2", "A1", broker="zerodha", client_id="C", label="A1",
                         static_ip_note=None, secret_blob=None, quote_account_id=None)  # fmt: skip
    store.create_account("u2", "A2", broker="zerodha", client_id="D", label="A2",
                         static_ip_note=None, secret_blob=None, quote_account_id=None)  # fmt: skip
    theirs_basket = BasketService(store).create("u2", "theirs", enabled=True)
    StrategyService(store, lambda: NOW).create("u2", spec(theirs_basket.basket_id))
    view = ScheduleView(store)
    assert len(store.due("WED", "0920")) == 2  # the slot holds both users
    assert [s.strategy_id for s in view.in_slot(UID, "WED", "0920")] == [mine.strategy_id]
    assert sorted(s.phase for s in view.of_weekday(UID, "WED")) == ["ENTRY", "EXIT"]
    assert view.of_weekday(UID, "SAT") == []
