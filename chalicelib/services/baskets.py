"""Basket use cases. A basket's enabled flag gates all its strategies: flipping it rewrites every
strategy's schedule entries in the same transactions as the flag, and the planner checks the flag
again at plan time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chalicelib.domain.records import BasketRecord
from chalicelib.errors import Conflict
from chalicelib.ports.accounts import BasketStore
from chalicelib.services.races import retry_races
from chalicelib.services.strategies import _check_version, new_id, scheduled_entries


@dataclass
class BasketService:
    repo: BasketStore

    def create(self, uid: str, name: str, enabled: bool) -> BasketRecord:
        return self.repo.create_basket(uid, new_id(), name=name, enabled=enabled)

    def get(self, uid: str, basket_id: str) -> BasketRecord:
        return self.repo.get_basket(uid, basket_id)

    def list(self, uid: str) -> Sequence[BasketRecord]:
        return self.repo.list_baskets(uid)

    def update(
        self,
        uid: str,
        basket_id: str,
        *,
        name: str | None,
        enabled: bool | None,
        version: int | None,
    ) -> BasketRecord:
        """Rename, enable or disable; the strategies' schedules follow in the same writes.

        The strategies are read after the basket, consistently; the basket is saved on the
        version read, which every strategy joining the basket bumps. A create racing a disable
        thus either is seen and unscheduled here, or sees the disabled flag itself.
        """

        def attempt() -> BasketRecord:
            basket = self.repo.get_basket(uid, basket_id)
            _check_version(basket.version, version)
            strategies = self.repo.strategies_of_basket(uid, basket_id)
            if name is not None:
                basket.name = name
            if enabled is not None:
                basket.enabled = int(enabled)
            # A rename leaves the schedules alone; a flag change rewrites every strategy's.
            rewrites = [
                (s, scheduled_entries(s, basket)) for s in strategies if enabled is not None
            ]
            self.repo.save_basket_with_schedules(basket, rewrites)
            return basket

        return retry_races(attempt)

    def delete(self, uid: str, basket_id: str) -> None:
        """Refuse (409 basket_not_empty) while the basket has strategies: deleting them with it
        would silently drop positions' exits and history. The delete is conditioned on the
        version read, so a strategy joining meanwhile makes it re-read and refuse."""

        def attempt() -> None:
            basket = self.repo.get_basket(uid, basket_id)
            if self.repo.strategies_of_basket(uid, basket_id):
                raise Conflict(
                    "the basket still has strategies; delete or move them first",
                    code="basket_not_empty",
                )
            self.repo.delete_basket(basket)

        retry_races(attempt)
