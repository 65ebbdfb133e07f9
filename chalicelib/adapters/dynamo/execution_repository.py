"""Storage of executions (the exactly-once gate), child orders and positions.

The gate is a conditional put: the first caller for (user, strategy, trading date, phase) creates
the execution item and owns the slot; every other caller (a duplicate trigger, a retry, a second
clock) gets `False` and sends nothing. Fills reach a position exactly once: the order's `applied`
flag and the position's version are written in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from pynamodb.exceptions import PutError
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamo.event_items import append_event
from chalicelib.adapters.dynamo.models import (
    BaseItem,
    ExecutionItem,
    OrderItem,
    PositionItem,
    user_pk,
)
from chalicelib.adapters.dynamo.repository import Repository, _lost_race, guarded, now_iso
from chalicelib.errors import DependencyUnavailable, NotFound

WRITE_BATCH = 25


class ExecutionRepository:
    def __init__(self, repo: Repository) -> None:
        self._repo = repo

    # -- the gate ------------------------------------------------------------------------------
    def open_execution(
        self, uid: str, trade_date: str, strategy_id: str, phase: str, slot: str, owner: str
    ) -> ExecutionItem | None:
        """Create the execution if nobody has; None when it already exists (do not send)."""
        item = ExecutionItem(
            *ExecutionItem.key(uid, trade_date, strategy_id, phase),
            uid=uid,
            strategy_id=strategy_id,
            phase=phase,
            trade_date=trade_date,
            slot=slot,
            status="PLANNED",
            owner=owner,
            events=[],
        )
        item.created_at = item.updated_at = now_iso()
        try:
            item.save(ExecutionItem.pk.does_not_exist())
        except PutError as error:
            if _lost_race(error):
                return None
            raise DependencyUnavailable("storage is unavailable; retry shortly") from error
        return item

    def update_execution(self, item: ExecutionItem, **fields: Any) -> None:
        actions = [getattr(ExecutionItem, name).set(value) for name, value in fields.items()]
        actions.append(ExecutionItem.updated_at.set(now_iso()))
        guarded(lambda: item.update(actions=actions))

    def add_event(self, item: ExecutionItem, event: dict[str, Any]) -> None:
        """One append-only event item (``event_items``): never a rewrite of the execution item,
        which two writers would race on and a busy day would grow past 400 KB."""
        append_event(item.uid, item.sk, event)

    def get_execution(self, uid: str, sk: str) -> ExecutionItem:
        try:
            return guarded(lambda: ExecutionItem.get(user_pk(uid), sk, consistent_read=True))
        except ExecutionItem.DoesNotExist:
            raise NotFound("execution not found") from None

    def executions_on(self, uid: str, trade_date: str) -> list[ExecutionItem]:
        return guarded(
            lambda: list(
                ExecutionItem.query(user_pk(uid), BaseItem.sk.startswith(f"EXEC#{trade_date}"))
            )
        )

    # -- orders --------------------------------------------------------------------------------
    def put_orders(self, items: Iterable[OrderItem]) -> None:
        def write() -> None:
            with OrderItem.batch_write() as batch:
                for item in items:
                    item.created_at = item.updated_at = now_iso()
                    batch.save(item)

        guarded(write)

    def save_order(self, item: OrderItem) -> None:
        item.updated_at = now_iso()
        guarded(lambda: item.save())

    def orders_of_execution(self, uid: str, execution_sk: str) -> list[OrderItem]:
        hash_key, prefix = OrderItem.execution_index_key(uid, execution_sk)
        return guarded(
            lambda: [
                o
                for o in BaseItem.gsi1.query(hash_key, BaseItem.gsi1sk.startswith(prefix))
                if isinstance(o, OrderItem)
            ]
        )

    def orders_on(self, uid: str, trade_date: str, *, consistent: bool = False) -> list[OrderItem]:
        return guarded(
            lambda: list(
                OrderItem.query(
                    user_pk(uid),
                    BaseItem.sk.startswith(f"ORDER#{trade_date}#"),
                    consistent_read=consistent,
                )
            )
        )

    # -- positions -----------------------------------------------------------------------------
    def positions(
        self, uid: str, strategy_id: str | None = None, *, consistent: bool = False
    ) -> list[PositionItem]:
        prefix = f"POS#{strategy_id}#" if strategy_id else "POS#"
        return guarded(
            lambda: list(
                PositionItem.query(
                    user_pk(uid), BaseItem.sk.startswith(prefix), consistent_read=consistent
                )
            )
        )

    def orders(self, uid: str, trade_date: str, order_ids: list[str]) -> list[OrderItem]:
        """The named orders of one day, in one BatchGet (consistent)."""
        keys = [OrderItem.key(uid, trade_date, order_id) for order_id in dict.fromkeys(order_ids)]
        if not keys:
            return []
        found = guarded(lambda: list(OrderItem.batch_get(keys, consistent_read=True)))
        by_id = {o.order_id: o for o in found}
        return [by_id[i] for i in dict.fromkeys(order_ids) if i in by_id]

    def apply_fill(
        self,
        order: OrderItem,
        symbol: str,
        contract: dict[str, Any],
        quantity: int,
        price: Decimal,
    ) -> bool:
        """Add an order's fill to its position, once. False if it was applied already."""
        if order.applied:
            return False
        key = PositionItem.key(order.uid, order.strategy_id, order.account_id, symbol)
        try:
            position = PositionItem.get(*key, consistent_read=True)
        except PositionItem.DoesNotExist:
            position = PositionItem(
                *key,
                uid=order.uid,
                strategy_id=order.strategy_id,
                account_id=order.account_id,
                symbol=symbol,
                contract=contract,
            )
        value = price * quantity
        if order.request["side"] == "BUY":
            position.net_quantity += quantity
            position.buy_quantity += quantity
            position.buy_value = str(Decimal(position.buy_value) + value)
        else:
            position.net_quantity -= quantity
            position.sell_quantity += quantity
            position.sell_value = str(Decimal(position.sell_value) + value)
        position.updated_at = now_iso()
        order.applied = 1
        try:
            with TransactWrite(connection=self._repo._connection()) as tx:
                tx.save(position)
                tx.save(order, condition=OrderItem.applied == 0)
        except Exception as error:
            if _lost_race(error):
                order.applied = 1
                return False
            raise DependencyUnavailable("storage is unavailable; retry shortly") from error
        return True
