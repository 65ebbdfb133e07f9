"""The order lifecycle's transitions (``domain/order_lifecycle.py``, docs/order-lifecycle.md),
one named conditional update each, conditioned on the states it may start from.

A method returns False when the condition failed (someone else moved the order); the in-memory
item is then refreshed from the table, so the caller always continues from the truth. A live
claim is never failed or reopened by anyone but its claimer (``claimed_before``).
"""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.dynamo.claim_transitions import claim_is_stale
from chalicelib.adapters.dynamo.conditional_writes import (
    ConditionalWrites,
    ConditionFailed,
    and_condition,
    history_entry,
)
from chalicelib.adapters.dynamo.models import OrderItem
from chalicelib.adapters.dynamo.repository import now_iso
from chalicelib.domain import order_lifecycle as lc
from chalicelib.errors import DependencyUnavailable


class OrderTransitions(ConditionalWrites):
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
        except ConditionFailed:
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
        entry = history_entry(acked_at, lc.OPEN, message, recovered=recovered)

        def actions(current: OrderItem) -> list[Any]:
            moves = [
                OrderItem.status.set(lc.OPEN),
                OrderItem.broker_order_id.set(broker_order_id),
                OrderItem.acked_at.set(acked_at),
                OrderItem.updated_at.set(now_iso()),
            ]
            if sent_at is not None and not current.sent_at:
                moves.append(OrderItem.sent_at.set(sent_at))
            if current.status == lc.FAILED:  # "never sent" was wrong: its error goes
                moves.append(OrderItem.error.remove())
            return moves

        return self._append(
            order,
            entry,
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
        moves = [
            OrderItem.status.set(lc.UNKNOWN),
            OrderItem.error.set(error),
            OrderItem.updated_at.set(now_iso()),
        ]
        if sent_at is not None:
            moves.append(OrderItem.sent_at.set(sent_at))
        return self._append(
            order,
            history_entry(at, lc.UNKNOWN, error.get("message", "")),
            lambda _: moves,
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
        moves = [
            OrderItem.status.set(status),
            OrderItem.error.set(error),
            OrderItem.updated_at.set(now_iso()),
        ]
        if sent_at is not None:
            moves.append(OrderItem.sent_at.set(sent_at))
        return self._append(
            order,
            history_entry(at, status, error.get("message", "")),
            lambda _: moves,
            and_condition(
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
        return self._append(
            order,
            history_entry(at, lc.BUILT, reason, resent_as=tag),
            lambda current: [
                OrderItem.status.set(lc.BUILT),
                OrderItem.tag.set(tag),
                OrderItem.request.set({**current.request, "tag": tag}),
                OrderItem.resent_from.set(current.tag),
                OrderItem.claim_token.remove(),
                OrderItem.claimed_at.remove(),
                OrderItem.sent_at.remove(),
                OrderItem.error.set({"kind": "never_sent", "code": "resent", "message": reason}),
                OrderItem.updated_at.set(now_iso()),
            ],
            and_condition(
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
        return self._append(
            order,
            history_entry(at, lc.MISSED, reason),
            lambda _: [
                OrderItem.status.set(lc.MISSED),
                OrderItem.error.set({"kind": "missed", "code": "missed", "message": reason}),
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
