"""Orders as stored and read: BUILT orders written in batches, request edits, and the reads
by execution, by day, by name and of what the recovery sweep must look at."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from chalicelib.adapters.dynamo.conditional_writes import ConditionalWrites
from chalicelib.adapters.dynamo.models import BaseItem, OrderItem, user_pk
from chalicelib.adapters.dynamo.repository import guarded, now_iso
from chalicelib.domain import order_lifecycle as lc


class OrderQueries(ConditionalWrites):
    def put_orders(self, items: Iterable[OrderItem]) -> None:
        """Store BUILT orders (deterministic ids: a retried batch rewrites the same items)."""
        items = list(items)

        def write() -> None:
            with OrderItem.batch_write() as batch:
                for item in items:
                    item.created_at = item.updated_at = now_iso()
                    batch.save(item)

        self._write(write)

    def put_claimed(self, items: Sequence[OrderItem], owner: str, *, at: str) -> None:
        """Store new orders already claimed (SENDING) by ``owner`` (claim token
        ``<owner>:<order id>``, claimed at ``at``): written before their send, so a crash
        between the two leaves orders the recovery sweep resolves by tag."""
        for item in items:
            item.status = lc.CLAIMED
            item.claim_token = f"{owner}:{item.order_id}"
            item.claimed_at = at
        self.put_orders(items)

    def save_order(self, item: OrderItem) -> None:
        """Write a request change of a working order (a stop moved, an exit trimmed).

        Not a state transition: those are the ``record_*`` methods below.
        """
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

    def unsettled_orders(self, uid: str, trade_date: str) -> list[OrderItem]:
        """Orders of one day the recovery sweep must look at (consistent, one filtered Query):
        not terminal, or terminal with a fill not yet in the position."""
        unsettled = OrderItem.status.is_in(*(set(lc.ALL) - lc.TERMINAL)) | (
            (OrderItem.filled_quantity > 0) & (OrderItem.applied == 0)
        )
        return guarded(
            lambda: list(
                OrderItem.query(
                    user_pk(uid),
                    BaseItem.sk.startswith(f"ORDER#{trade_date}#"),
                    filter_condition=unsettled,
                    consistent_read=True,
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
