"""Strategy use cases: validate against the caller's accounts and the market, then store the
strategy and its schedule entries together."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from chalicelib.adapters.dynamo.models import BasketItem, StrategyItem
from chalicelib.adapters.dynamo.repository import Repository
from chalicelib.domain.schedule import ScheduleEntry, schedule_entries
from chalicelib.domain.strategy import (
    Strategy,
    StrategyStatus,
    check_strategy,
    from_document,
    to_document,
)
from chalicelib.errors import Conflict, NotFound, ValidationFailed
from chalicelib.services.clock import Clock


def new_id() -> str:
    return uuid.uuid4().hex[:16]


def scheduled_entries(item: StrategyItem, basket: BasketItem) -> list[ScheduleEntry]:
    """The entries a strategy should have in GSI2: none while paused or its basket is disabled."""
    if item.status != StrategyStatus.ACTIVE or not basket.enabled:
        return []
    return schedule_entries(item.strategy_id, from_document(item.spec))


@dataclass
class StrategyService:
    repo: Repository
    clock: Clock

    def _validated(self, uid: str, strategy: Strategy) -> BasketItem:
        try:
            basket = self.repo.get_basket(uid, strategy.basket_id)
        except NotFound as error:
            raise ValidationFailed("unknown basket", field="basket_id") from error
        brokers = {a.account_id: a.broker for a in self.repo.list_accounts(uid)}
        check_strategy(strategy, brokers, self.clock().date(), brokers)
        return basket

    def create(self, uid: str, strategy: Strategy) -> StrategyItem:
        basket = self._validated(uid, strategy)
        strategy_id = new_id()
        pk, sk = StrategyItem.key(uid, strategy_id)
        gsi1pk, gsi1sk = StrategyItem.basket_index_key(uid, strategy.basket_id, strategy_id)
        item = StrategyItem(
            pk,
            sk,
            gsi1pk=gsi1pk,
            gsi1sk=gsi1sk,
            uid=uid,
            strategy_id=strategy_id,
            basket_id=strategy.basket_id,
            status=StrategyStatus.ACTIVE.value,
            spec=to_document(strategy),
        )
        self.repo.save_strategy(item, basket, scheduled_entries(item, basket), [], create=True)
        return item

    def get(self, uid: str, strategy_id: str) -> StrategyItem:
        return self.repo.get_strategy(uid, strategy_id)

    def list(self, uid: str, basket_id: str | None = None) -> list[StrategyItem]:
        if basket_id:
            return self.repo.strategies_of_basket(uid, basket_id)
        return self.repo.list_strategies(uid)

    def replace(
        self, uid: str, strategy_id: str, strategy: Strategy, version: int | None
    ) -> StrategyItem:
        item = self.repo.get_strategy(uid, strategy_id)
        _check_version(item.version, version)
        new_basket = self._validated(uid, strategy)
        old_basket = self.repo.get_basket(uid, item.basket_id)
        old_entries = scheduled_entries(item, old_basket)
        item.spec = to_document(strategy)
        item.basket_id = strategy.basket_id
        item.gsi1pk, item.gsi1sk = StrategyItem.basket_index_key(
            uid, strategy.basket_id, strategy_id
        )
        new_entries = scheduled_entries(item, new_basket)
        self.repo.save_strategy(item, new_basket, new_entries, old_entries, create=False)
        return item

    def set_status(
        self, uid: str, strategy_id: str, status: StrategyStatus, version: int | None = None
    ) -> StrategyItem:
        item = self.repo.get_strategy(uid, strategy_id)
        _check_version(item.version, version)
        basket = self.repo.get_basket(uid, item.basket_id)
        old_entries = scheduled_entries(item, basket)
        item.status = status.value
        self.repo.save_strategy(
            item, basket, scheduled_entries(item, basket), old_entries, create=False
        )
        return item

    def delete(self, uid: str, strategy_id: str) -> None:
        item = self.repo.get_strategy(uid, strategy_id)
        basket = self.repo.get_basket(uid, item.basket_id)
        self.repo.delete_strategy(item, scheduled_entries(item, basket))


def _check_version(current: int | None, expected: int | None) -> None:
    if expected is not None and expected != current:
        raise Conflict(
            f"version {expected} is stale; the current version is {current}",
            code="version_conflict",
        )
