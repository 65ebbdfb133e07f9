"""Strategy use cases: validate against the caller's accounts and the market, then store the
strategy and its schedule entries together."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from chalicelib.domain.records import BasketRecord, StrategyRecord
from chalicelib.domain.schedule import ScheduleEntry, schedule_entries
from chalicelib.domain.strategy import Phase, Strategy, StrategyStatus
from chalicelib.domain.strategy_checks import check_strategy
from chalicelib.domain.strategy_documents import from_document, to_document
from chalicelib.errors import Conflict, ValidationFailed
from chalicelib.ports.accounts import StrategyStore
from chalicelib.services.clock import Clock
from chalicelib.services.races import retry_races


def new_id() -> str:
    return uuid.uuid4().hex[:16]


def scheduled_entries(item: StrategyRecord, basket: BasketRecord | None) -> list[ScheduleEntry]:
    """The entries a strategy should have in GSI2.

    Pausing a strategy or disabling its basket stops new *entries* only: its exits stay
    scheduled, because a position entered earlier that day must still be closed at the exit time
    (an exit closes only what is held, so with nothing held it sends nothing). A strategy whose
    basket is gone has nothing scheduled. The planner checks the basket again at plan time.
    """
    if basket is None:
        return []
    entries = schedule_entries(item.strategy_id, from_document(item.spec))
    if item.status != StrategyStatus.ACTIVE or not basket.enabled:
        return [e for e in entries if e.phase is Phase.EXIT]
    return entries


@dataclass
class StrategyService:
    """Every write re-reads the basket and is conditioned on it (repository.save_strategy), and
    is retried after a lost race, so a strategy never ends scheduled in a disabled basket."""

    repo: StrategyStore
    clock: Clock

    def _validated(self, uid: str, strategy: Strategy) -> None:
        if self.repo.find_basket(uid, strategy.basket_id) is None:
            raise ValidationFailed("unknown basket", field="basket_id")
        brokers = {a.account_id: a.broker for a in self.repo.list_accounts(uid)}
        check_strategy(strategy, brokers, self.clock().date(), brokers)

    def _target_basket(self, uid: str, basket_id: str) -> BasketRecord:
        basket = self.repo.find_basket(uid, basket_id)
        if basket is None:  # deleted since validation
            raise ValidationFailed("unknown basket", field="basket_id")
        return basket

    def create(self, uid: str, strategy: Strategy) -> StrategyRecord:
        self._validated(uid, strategy)
        strategy_id = new_id()

        tried: list[bool] = []

        def attempt() -> StrategyRecord:
            if tried:  # a write that timed out may have committed: never create twice
                mine = self.repo.find_strategy(uid, strategy_id)
                if mine is not None:
                    return mine
            tried.append(True)
            basket = self._target_basket(uid, strategy.basket_id)
            item = self.repo.new_strategy(
                uid,
                strategy_id,
                basket_id=strategy.basket_id,
                status=StrategyStatus.ACTIVE.value,
                spec=to_document(strategy),
            )
            entries = scheduled_entries(item, basket)
            self.repo.save_strategy(item, basket, entries, create=True, joins=True)
            return item

        return retry_races(attempt)

    def get(self, uid: str, strategy_id: str) -> StrategyRecord:
        return self.repo.get_strategy(uid, strategy_id)

    def list(self, uid: str, basket_id: str | None = None) -> Sequence[StrategyRecord]:
        if basket_id:
            return self.repo.strategies_of_basket(uid, basket_id)
        return self.repo.list_strategies(uid)

    def replace(
        self, uid: str, strategy_id: str, strategy: Strategy, version: int | None
    ) -> StrategyRecord:
        self.repo.get_strategy(uid, strategy_id)  # another user's id is a 404, not a 400
        self._validated(uid, strategy)

        def attempt() -> StrategyRecord:
            item = self.repo.get_strategy(uid, strategy_id)
            _check_version(item.version, version)
            basket = self._target_basket(uid, strategy.basket_id)
            joins = item.basket_id != strategy.basket_id
            item.spec = to_document(strategy)
            item.basket_id = strategy.basket_id  # the store re-keys its basket index
            entries = scheduled_entries(item, basket)
            self.repo.save_strategy(item, basket, entries, create=False, joins=joins)
            return item

        return retry_races(attempt)

    def set_status(
        self, uid: str, strategy_id: str, status: StrategyStatus, version: int | None = None
    ) -> StrategyRecord:
        """Pause or resume; works on a strategy whose basket is gone (it stays unscheduled)."""

        def attempt() -> StrategyRecord:
            item = self.repo.get_strategy(uid, strategy_id)
            _check_version(item.version, version)
            basket = self.repo.find_basket(uid, item.basket_id)
            item.status = status.value
            entries = scheduled_entries(item, basket)
            self.repo.save_strategy(item, basket, entries, create=False, joins=False)
            return item

        return retry_races(attempt)

    def delete(self, uid: str, strategy_id: str) -> None:
        """Delete a strategy and its schedule items, whether or not its basket still exists."""

        def attempt() -> None:
            self.repo.delete_strategy(self.repo.get_strategy(uid, strategy_id))

        retry_races(attempt)


def _check_version(current: int | None, expected: int | None) -> None:
    if expected is not None and expected != current:
        raise Conflict(
            f"version {expected} is stale; the current version is {current}",
            code="version_conflict",
        )
