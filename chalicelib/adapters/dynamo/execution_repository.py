"""The execution store: executions (the exactly-once gate), child orders and positions.

Nothing outside this module writes order or position state. Every order transition of the
lifecycle (``domain/order_lifecycle.py``, drawn in docs/order-lifecycle.md) is one named method
with a condition on the state it starts from: ``claim_order``, ``record_sent``, ``record_ack``,
``record_unknown``, ``record_failed``, ``record_missed``, ``reopen_to_resend`` (a closing order the
broker never received, once), ``record_status`` (a broker status, which closes the order when
terminal) and ``apply_fill`` (once per fill); a claimed order's owner-only transitions
(``renew_claim``, ``hold_back``, ``cancel_unsent``) and ``withdraw_unsent`` are in
``claim_transitions``. A live claim is never failed or reopened by anyone but its claimer
(``claimed_before``). A method returns False when the condition
failed (someone else moved the order); the in-memory item is then refreshed from the table, so the
caller always continues from the truth.

DynamoDB retries a timed-out write itself, and a retried conditional write whose first attempt
succeeded fails its own condition. So no conditional failure is read as "someone else" blindly:
the gate and the claim carry a token of their attempt, and every transition re-reads the item
and accepts it when it already is where the write was taking it.

The gate is a conditional put: the first caller for (user, strategy, trading date, phase) creates
the execution item and owns the slot; every other caller (a duplicate trigger, a retry, a second
clock) gets None and sends nothing. Fills reach a position exactly once: the order's ``applied``
flag and the position's version are written in one transaction; a version conflict on the
position (another order of the same contract settling at the same moment) is retried with the
position re-read, never taken for "already applied".
"""

from __future__ import annotations

import logging
import random
import secrets
import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any, TypeVar

from pynamodb.exceptions import (
    GetError,
    PutError,
    PynamoDBConnectionError,
    PynamoDBException,
    QueryError,
    TransactWriteError,
    UpdateError,
)
from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamo.claim_transitions import ClaimTransitions, claim_is_stale
from chalicelib.adapters.dynamo.event_items import append_event
from chalicelib.adapters.dynamo.models import (
    BaseItem,
    ExecutionItem,
    OrderItem,
    PositionItem,
    user_pk,
)
from chalicelib.adapters.dynamo.repository import Repository, _lost_race, guarded, now_iso
from chalicelib.domain import order_lifecycle as lc
from chalicelib.errors import DependencyUnavailable, NotFound

log = logging.getLogger(__name__)
T = TypeVar("T")
#: Attempts of one conditional write after a transient error (timeouts, throttling, 5xx).
WRITE_ATTEMPTS = 3
#: Attempts of a fill against concurrent writers of the same position (each round, one wins).
FILL_ATTEMPTS = 12
WRITE_BATCH = 25


class ExecutionRepository(ClaimTransitions):
    def __init__(self, repo: Repository, sleep: Callable[[float], None] = time.sleep) -> None:
        self._repo = repo
        self._sleep = sleep

    # -- the gate ------------------------------------------------------------------------------
    def open_execution(
        self,
        uid: str,
        trade_date: str,
        strategy_id: str,
        phase: str,
        slot: str,
        owner: str,
        token: str | None = None,
    ) -> ExecutionItem | None:
        """Create the execution if nobody has; None when another attempt owns it (do not send).

        ``token`` names this attempt: a write retried after a timeout that finds the gate taken
        by the same token took it itself, and continues.
        """
        token = token or secrets.token_hex(8)
        item = ExecutionItem(
            *ExecutionItem.key(uid, trade_date, strategy_id, phase),
            uid=uid,
            strategy_id=strategy_id,
            phase=phase,
            trade_date=trade_date,
            slot=slot,
            status="PLANNED",
            owner=owner,
            gate_token=token,
            events=[],
        )
        item.created_at = item.updated_at = now_iso()
        try:
            self._write(lambda: item.save(ExecutionItem.pk.does_not_exist()))
        except _ConditionFailed:
            stored = self.get_execution(uid, item.sk)
            return stored if stored.gate_token == token else None
        return item

    def update_execution(self, item: ExecutionItem, **fields: Any) -> None:
        actions = [getattr(ExecutionItem, name).set(value) for name, value in fields.items()]
        actions.append(ExecutionItem.updated_at.set(now_iso()))
        self._write(lambda: item.update(actions=actions))

    def add_event(self, item: ExecutionItem, event: dict[str, Any]) -> None:
        """One append-only event item (``event_items``): never a rewrite of the execution item,
        which two writers would race on and a busy day would grow past 400 KB."""
        append_event(item.uid, item.sk, event)

    def claim_unwind(self, item: ExecutionItem, token: str) -> bool:
        """Take the right to unwind a failed entry, once: two settlers never both unwind."""
        try:
            self._write(
                lambda: item.update(
                    actions=[ExecutionItem.unwind_token.set(token)],
                    condition=ExecutionItem.unwind_token.does_not_exist()
                    | (ExecutionItem.unwind_token == token),
                )
            )
        except _ConditionFailed:
            item.refresh(consistent_read=True)
            return False
        return True

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

    # -- orders: creation and reads ------------------------------------------------------------
    def put_orders(self, items: Iterable[OrderItem]) -> None:
        """Store BUILT orders (deterministic ids: a retried batch rewrites the same items)."""
        items = list(items)

        def write() -> None:
            with OrderItem.batch_write() as batch:
                for item in items:
                    item.created_at = item.updated_at = now_iso()
                    batch.save(item)

        self._write(write)

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

    # -- orders: the lifecycle transitions -----------------------------------------------------
    def claim_order(self, order: OrderItem, token: str, at: str) -> bool:
        """claim: BUILT -> SENDING for the firer holding ``token``; False when another owns it.

        Idempotent for its owner: the condition also admits the same token, so a retried claim
        whose first write landed continues instead of dropping the order.
        """
        return self._transition(
            order,
            [
                OrderItem.status.set(lc.CLAIMED),
                OrderItem.claim_token.set(token),
                OrderItem.claimed_at.set(at),
            ],
            OrderItem.status.is_in(*lc.CLAIM_FROM)
            | ((OrderItem.status == lc.CLAIMED) & (OrderItem.claim_token == token)),
            lambda o: o.status == lc.CLAIMED and o.claim_token == token,
        )

    def record_sent(self, order: OrderItem, sent_at: str) -> None:
        """record sent (write-ahead): a new order about to leave, stored first, so a crash
        between the two leaves an order recovery can look up by tag, never an unknown one."""
        order.status = lc.SENT
        order.sent_at = sent_at
        order.created_at = order.updated_at = now_iso()
        try:
            self._write(lambda: order.save(OrderItem.pk.does_not_exist()))
        except _ConditionFailed:
            order.refresh(consistent_read=True)
            if order.status != lc.SENT or order.sent_at != sent_at:
                raise DependencyUnavailable("order id already in use") from None

    def record_ack(
        self,
        order: OrderItem,
        broker_order_id: str,
        *,
        sent_at: str | None,
        acked_at: str,
        recovered: bool = False,
        message: str = "acknowledged",
    ) -> bool:
        """record acknowledged: -> OPEN with the broker's id. The broker's word wins over a
        recovery's guess of "never sent" (FAILED), never over a different broker id."""
        entry = _entry(acked_at, lc.OPEN, message, recovered=recovered)
        actions = [
            OrderItem.status.set(lc.OPEN),
            OrderItem.broker_order_id.set(broker_order_id),
            OrderItem.acked_at.set(acked_at),
            OrderItem.history.set([*(order.history or []), entry]),
            OrderItem.updated_at.set(now_iso()),
        ]
        if sent_at is not None and not order.sent_at:
            actions.append(OrderItem.sent_at.set(sent_at))
        if order.status == lc.FAILED:
            actions.append(OrderItem.error.remove())
        return self._transition(
            order,
            actions,
            OrderItem.status.is_in(*lc.ACK_FROM)
            & (
                OrderItem.broker_order_id.does_not_exist()
                | (OrderItem.broker_order_id == broker_order_id)
            ),
            lambda o: o.broker_order_id == broker_order_id,
        )

    def record_unknown(
        self, order: OrderItem, error: dict[str, Any], *, at: str, sent_at: str | None = None
    ) -> bool:
        """record unknown: the request may be at the broker; recovery resolves it by tag."""
        actions = [
            OrderItem.status.set(lc.UNKNOWN),
            OrderItem.error.set(error),
            OrderItem.history.set(
                [*(order.history or []), _entry(at, lc.UNKNOWN, error.get("message", ""))]
            ),
            OrderItem.updated_at.set(now_iso()),
        ]
        if sent_at is not None:
            actions.append(OrderItem.sent_at.set(sent_at))
        return self._transition(
            order,
            actions,
            OrderItem.status.is_in(*lc.UNKNOWN_FROM),
            lambda o: o.status == lc.UNKNOWN,
        )

    def record_failed(
        self,
        order: OrderItem,
        status: str,
        error: dict[str, Any],
        *,
        at: str,
        sent_at: str | None = None,
        claimed_before: str | None = None,
    ) -> bool:
        """record refused (REJECTED) or never sent (FAILED): terminal before any acknowledgement.

        Someone other than the claimer (settlement's deadline, the recovery sweep) passes
        ``claimed_before`` (``lc.stale_claims_before``): a claimed order is then recorded never
        sent only when its claim is older, never under a live firer about to send it."""
        if status not in (lc.REJECTED, lc.FAILED):
            raise ValueError(f"record_failed cannot record {status}")
        actions = [
            OrderItem.status.set(status),
            OrderItem.error.set(error),
            OrderItem.history.set(
                [*(order.history or []), _entry(at, status, error.get("message", ""))]
            ),
            OrderItem.updated_at.set(now_iso()),
        ]
        if sent_at is not None:
            actions.append(OrderItem.sent_at.set(sent_at))
        return self._transition(
            order,
            actions,
            _and(
                OrderItem.status.is_in(*lc.NEVER_SENT_FROM)
                & OrderItem.broker_order_id.does_not_exist(),
                claim_is_stale(claimed_before),
            ),
            lambda o: o.status == status,
        )

    def reopen_to_resend(
        self, order: OrderItem, tag: str, reason: str, *, at: str, claimed_before: str | None = None
    ) -> bool:
        """reopen to resend: a closing order (exit, unwind) the broker never received goes back
        to BUILT under a new ``tag``, once, for a new claim. Exits are always sent, however
        late; the new tag keeps a late-appearing first request and the resend apart at the
        broker. Only from claimed / sent / unknown with no broker id, never twice
        (``resent_from`` is the first request's tag), and never under a live claim (one younger
        than ``claimed_before``: its firer may be sending it right now)."""
        return self._transition(
            order,
            [
                OrderItem.status.set(lc.BUILT),
                OrderItem.tag.set(tag),
                OrderItem.request.set({**order.request, "tag": tag}),
                OrderItem.resent_from.set(order.tag),
                OrderItem.claim_token.remove(),
                OrderItem.claimed_at.remove(),
                OrderItem.sent_at.remove(),
                OrderItem.error.set({"kind": "never_sent", "code": "resent", "message": reason}),
                OrderItem.history.set(
                    [*(order.history or []), _entry(at, lc.BUILT, reason, resent_as=tag)]
                ),
                OrderItem.updated_at.set(now_iso()),
            ],
            _and(
                OrderItem.status.is_in(*lc.RESEND_FROM)
                & OrderItem.broker_order_id.does_not_exist()
                & OrderItem.resent_from.does_not_exist(),
                claim_is_stale(claimed_before),
            ),
            lambda o: o.status == lc.BUILT and o.tag == tag,
        )

    def record_missed(self, order: OrderItem, reason: str, *, at: str) -> bool:
        """record missed: an entry too late to send is never sent (terminal, not a failure of
        the broker). Only from BUILT or claimed: a request that left is not "missed"."""
        return self._transition(
            order,
            [
                OrderItem.status.set(lc.MISSED),
                OrderItem.error.set({"kind": "missed", "code": "missed", "message": reason}),
                OrderItem.history.set([*(order.history or []), _entry(at, lc.MISSED, reason)]),
                OrderItem.updated_at.set(now_iso()),
            ],
            OrderItem.status.is_in(*lc.MISSED_FROM) & OrderItem.sent_at.does_not_exist(),
            lambda o: o.status == lc.MISSED,
        )

    def record_status(self, order: OrderItem) -> bool:
        """record a broker status (settlement's poll), and close: a terminal status ends the
        order. The in-memory ``order`` carries the new status, fill and history; the condition is
        that the stored order is still working (or already in that status) and has no larger
        fill (a stale read). A new fill goes through ``apply_fill`` instead."""
        return self._transition(
            order,
            [
                OrderItem.status.set(order.status),
                OrderItem.filled_quantity.set(order.filled_quantity),
                OrderItem.average_price.set(order.average_price)
                if order.average_price is not None
                else OrderItem.average_price.remove(),
                OrderItem.broker_order_id.set(order.broker_order_id)
                if order.broker_order_id
                else OrderItem.broker_order_id.remove(),
                OrderItem.acked_at.set(order.acked_at)
                if order.acked_at
                else OrderItem.acked_at.remove(),
                OrderItem.history.set(order.history or []),
                OrderItem.updated_at.set(now_iso()),
            ],
            (OrderItem.status.is_in(*lc.POLL_FROM) | (OrderItem.status == order.status))
            & (
                OrderItem.filled_quantity.does_not_exist()
                | (OrderItem.filled_quantity <= order.filled_quantity)
            ),  # a stale status never takes a fill back
            lambda o, want=(order.status, order.filled_quantity): (
                (o.status, o.filled_quantity) == want
            ),  # compared with what this write wanted: the refresh overwrites ``order``
            refresh_on_failure=True,
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
                _keep_applied(order, done, done_value)
                return False
            total = price * quantity
            delta, delta_value = quantity - done, total - done_value
            fill_id = f"{order.broker_order_id or order.tag}:{quantity}"
            at = now_iso()
            fill = {"id": fill_id, "quantity": delta, "value": str(delta_value), "at": at}
            position = self._position(order, symbol, contract)
            _add(position, order.request["side"], delta, delta_value)
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
                    _keep_applied(order, stored_done, stored_value, stored.fills)
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
            _keep_applied(order, quantity, total, [*(order.fills or []), fill])
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

    # -- plumbing ------------------------------------------------------------------------------
    def _transition(
        self,
        order: OrderItem,
        actions: list[Any],
        condition: Condition,
        reached: Callable[[OrderItem], bool],
        *,
        refresh_on_failure: bool = True,
    ) -> bool:
        """One conditional update; on a failed condition, True when the stored order is already
        where this write was taking it (our own retried write), else False with ``order``
        refreshed from the table."""
        try:
            self._write(lambda: order.update(actions=actions, condition=condition))
        except _ConditionFailed:
            if refresh_on_failure:
                guarded(lambda: order.refresh(consistent_read=True))
            if reached(order):
                return True
            log.info(
                "order transition refused: the order moved meanwhile",
                extra={"order": order.order_id, "status": order.status},
            )
            return False
        return True

    def _write(self, call: Callable[[], T]) -> T:
        """A write, retried on transient errors; a failed condition raises ``_ConditionFailed``."""
        for attempt in range(WRITE_ATTEMPTS):
            try:
                return call()
            except (PutError, UpdateError, TransactWriteError) as error:
                if _lost_race(error):
                    raise _ConditionFailed from error
                failure: PynamoDBException = error
            except (GetError, QueryError, PynamoDBConnectionError) as error:
                failure = error
            log.warning(
                "dynamodb write failed; retrying",
                extra={"attempt": attempt + 1, "error": str(failure)},
            )
            if attempt + 1 < WRITE_ATTEMPTS:
                self._sleep(0.05 * (attempt + 1))
        raise DependencyUnavailable("storage is unavailable; retry shortly") from failure


class _ConditionFailed(Exception):
    """A conditional write found the item elsewhere than its condition allows."""


def _and(condition: Condition, more: Condition | None) -> Condition:
    return condition if more is None else condition & more


def _add(position: PositionItem, side: str, quantity: int, value: Decimal) -> None:
    if side == "BUY":
        position.net_quantity += quantity
        position.buy_quantity += quantity
        position.buy_value = str(Decimal(position.buy_value) + value)
    else:
        position.net_quantity -= quantity
        position.sell_quantity += quantity
        position.sell_value = str(Decimal(position.sell_value) + value)


def applied_so_far(order: OrderItem) -> tuple[int, Decimal]:
    """The order's cumulative quantity (and value) already in its position. Orders stored
    before fills were tracked carry only the ``applied`` flag: all of their fill, then."""
    if order.applied_quantity is not None:
        return int(order.applied_quantity), Decimal(order.applied_value or "0")
    if order.applied:
        price = Decimal(order.average_price or order.request.get("limit_price") or "0")
        return int(order.filled_quantity), price * int(order.filled_quantity)
    return 0, Decimal(0)


def _keep_applied(
    order: OrderItem, quantity: int, value: Decimal, fills: list[Any] | None = None
) -> None:
    order.applied_quantity = quantity
    order.applied_value = str(value)
    order.applied = 1 if quantity >= int(order.filled_quantity or 0) else 0
    if fills is not None:
        order.fills = fills


def _entry(at: str, status: str, message: str, **extra: Any) -> dict[str, Any]:
    return {
        "at": at,
        "status": status,
        "filled_quantity": 0,
        "average_price": None,
        "message": message,
        **extra,
    }
