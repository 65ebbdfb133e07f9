"""Positions and the fills that reach them, each exactly once.

The order's applied level and the position's version are written in one transaction; a version
conflict on the position (another order of the same contract settling at the same moment) is
retried with the position re-read, never taken for "already applied".
"""

from __future__ import annotations

import logging
import random
from decimal import Decimal
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamo.conditional_writes import ConditionalWrites
from chalicelib.adapters.dynamo.models import BaseItem, OrderItem, PositionItem, user_pk
from chalicelib.adapters.dynamo.repository import _lost_race, guarded, now_iso
from chalicelib.domain import order_lifecycle as lc
from chalicelib.domain.fills import add_fill, applied_so_far, keep_applied
from chalicelib.errors import DependencyUnavailable

log = logging.getLogger(__name__)
#: Attempts of a fill against concurrent writers of the same position (each round, one wins).
FILL_ATTEMPTS = 12


class PositionFills(ConditionalWrites):
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

    def apply_fill(
        self,
        order: OrderItem,
        symbol: str,
        contract: dict[str, Any],
        quantity: int,
        price: Decimal,
    ) -> bool:
        """apply fill: the broker's cumulative ``quantity`` filled at average ``price`` into the
        position, each fill exactly once. False when nothing was left to apply (applied already).

        A broker reports an order's cumulative filled quantity, so a fill is identified by the
        level it brings the order to: ``<broker order id>:<cumulative quantity>``. The order
        stores how much of it the position holds (``applied_quantity``, ``applied_value``);
        each call adds only the difference, in one transaction with the position (its version)
        and conditioned on the order's ``applied_quantity`` being what was read. So a partial
        fill applied in one pass and the rest in a later one add each once, a replayed or stale
        status (a lower level) adds nothing, and two settlers applying the same fill cannot
        both. The order's in-memory status, fill and history are written in the same
        transaction (``record_status``'s condition: the stored order still working or already
        in that status).

        A failed transaction is never read as "applied": the order is re-read, and only its
        stored ``applied_quantity`` says what the position holds. A version conflict on the
        position (another order of the same contract at the same moment) is retried with both
        re-read (up to ``FILL_ATTEMPTS`` times).
        """
        for attempt in range(FILL_ATTEMPTS):
            done, done_value = applied_so_far(order)
            if quantity <= done:
                keep_applied(order, done, done_value)
                return False
            total = price * quantity
            delta, delta_value = quantity - done, total - done_value
            fill_id = f"{order.broker_order_id or order.tag}:{quantity}"
            at = now_iso()
            fill = {"id": fill_id, "quantity": delta, "value": str(delta_value), "at": at}
            position = self._position(order, symbol, contract)
            add_fill(position, order.request["side"], delta, delta_value)
            position.updated_at = at
            actions = [
                OrderItem.status.set(order.status),
                OrderItem.filled_quantity.set(quantity),
                OrderItem.average_price.set(str(price)),
                OrderItem.applied_quantity.set(quantity),
                OrderItem.applied_value.set(str(total)),
                OrderItem.applied.set(1),
                OrderItem.fills.set([*(order.fills or []), fill]),
                OrderItem.history.set(order.history or []),
                OrderItem.updated_at.set(at),
            ]
            if order.broker_order_id:
                actions.append(OrderItem.broker_order_id.set(order.broker_order_id))
            if order.acked_at:
                actions.append(OrderItem.acked_at.set(order.acked_at))
            unchanged = (
                (OrderItem.applied_quantity.does_not_exist() & (OrderItem.applied == 0))
                if order.applied_quantity is None
                else OrderItem.applied_quantity == done
            )
            working = OrderItem.status.is_in(*lc.POLL_FROM) | (OrderItem.status == order.status)
            try:
                with TransactWrite(connection=self._repo._connection()) as tx:
                    tx.save(position)
                    tx.update(order, actions=actions, condition=unchanged & working)
            except TransactWriteError as error:
                # Never "applied" from a failure: re-read what the order says is in the position.
                stored = guarded(lambda: OrderItem.get(order.pk, order.sk, consistent_read=True))
                stored_done, stored_value = applied_so_far(stored)
                if stored_done >= quantity or (
                    _lost_race(error) and stored.status in lc.TERMINAL
                    and stored.status != order.status
                ):  # fmt: skip
                    keep_applied(order, stored_done, stored_value, stored.fills)
                    return False
                # The position's version moved (another fill of the contract), a concurrent
                # transaction, a fill applied part-way by another settler, or a transient
                # failure: continue from the stored level.
                order.applied_quantity = stored.applied_quantity
                order.applied_value = stored.applied_value
                order.applied = stored.applied
                order.fills = stored.fills
                log.info(
                    "fill not applied yet; retried",
                    extra={"order": order.order_id, "fill": fill_id, "attempt": attempt + 1,
                           "error": getattr(error, "cause_response_code", None)},
                )  # fmt: skip
                self._sleep(0.02 * (attempt + 1) + random.random() * 0.05)
                continue
            order.filled_quantity = quantity
            order.average_price = str(price)
            keep_applied(order, quantity, total, [*(order.fills or []), fill])
            order.updated_at = at
            return True
        raise DependencyUnavailable("the position kept changing; fill not applied yet")

    def _position(self, order: OrderItem, symbol: str, contract: dict[str, Any]) -> PositionItem:
        key = PositionItem.key(order.uid, order.strategy_id, order.account_id, symbol)
        try:
            return guarded(lambda: PositionItem.get(*key, consistent_read=True))
        except PositionItem.DoesNotExist:
            return PositionItem(
                *key,
                uid=order.uid,
                strategy_id=order.strategy_id,
                account_id=order.account_id,
                symbol=symbol,
                contract=contract,
            )
