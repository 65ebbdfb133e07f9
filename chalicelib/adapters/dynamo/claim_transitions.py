"""The execution store's transitions of a claimed or unsent order that only its owner may make.

A claimed order (``SENDING``) belongs to the firer whose ``claim_token`` it carries. The exit guard
(at T, in that firer's account worker) decides, under the close lease, what each closing order
still has to close; its decisions are these operations, each conditioned on the claim being
still its own, so a decision about an order somebody else moved meanwhile (recorded it never sent,
reopened it to resend it) is refused instead of acted on:

* ``renew_claim``: the request is about to leave (possibly trimmed): ``claimed_at`` is renewed, so
  nobody treats the claim as stale while the firer sends it; refused when the order is no longer
  this claim's (someone recorded it never sent): the firer then does not send it;
* ``hold_back``: not sent now (what is held could not be checked); it stays claimed and unsent
  with the reason, and the recovery sweep resends it once under a new tag once the claim is stale;
* ``cancel_unsent``: nothing left to close: CANCELLED, never sent.

And ``withdraw_unsent`` (the kill switch): BUILT -> CANCELLED, an order nobody claimed yet.

The risk monitor's intents (stops, risk closes, re-entries: written BUILT by the monitor, sent by
whichever actor wins ``claim_intent``) have theirs here too: ``claim_intent`` (BUILT -> SENT),
``abandon_intent`` (BUILT -> FAILED never sent), ``intent_never_reached`` (SENT without a broker id
-> FAILED) and ``record_intent_outcome`` (the broker's answer, only while still SENT).

One of the parts ``ExecutionRepository`` composes (``_transition`` is ``conditional_writes``').
"""

from __future__ import annotations

from typing import Any

from pynamodb.expressions.condition import Condition

from chalicelib.adapters.dynamo.conditional_writes import ConditionalWrites
from chalicelib.adapters.dynamo.models import OrderItem
from chalicelib.adapters.dynamo.repository import now_iso
from chalicelib.domain import order_lifecycle as lc


class ClaimTransitions(ConditionalWrites):
    def renew_claim(
        self, order: OrderItem, token: str, *, at: str, request: dict[str, Any] | None = None
    ) -> bool:
        """The claimer confirms, just before the request leaves, that the order is still its
        own and unsent, renewing ``claimed_at`` (and storing a trimmed ``request``). False:
        someone moved it (recorded it never sent, reopened it): it must not be sent."""
        actions = [OrderItem.claimed_at.set(at), OrderItem.updated_at.set(now_iso())]
        if request is not None:
            actions.append(OrderItem.request.set(request))
        return self._transition(
            order,
            actions,
            _claimed_by(token),
            lambda o: o.status == lc.CLAIMED and o.claim_token == token and o.claimed_at == at,
        )

    def hold_back(self, order: OrderItem, token: str, code: str, message: str, *, at: str) -> bool:
        """Claimed and not sent now: it stays claimed (the recovery sweep looks its tag up and
        resends it once, under a new tag, when the claim is stale), with the reason."""
        entry = {"at": at, "status": lc.CLAIMED, "filled_quantity": 0, "average_price": None,
                 "message": message}  # fmt: skip
        return self._append(
            order,
            entry,
            lambda _: [
                OrderItem.error.set({"kind": "never_sent", "code": code, "message": message}),
                OrderItem.updated_at.set(now_iso()),
            ],
            _claimed_by(token),
            lambda o: o.status == lc.CLAIMED and (o.error or {}).get("code") == code,
        )

    def cancel_unsent(
        self, order: OrderItem, token: str, code: str, message: str, *, at: str
    ) -> bool:
        """Claimed, never sent, and not needed any more (nothing left to close): CANCELLED."""
        return self._cancel(order, _claimed_by(token), code, message, at)

    def withdraw_unsent(self, order: OrderItem, code: str, message: str, *, at: str) -> bool:
        """BUILT -> CANCELLED for an order nobody claimed yet (a kill switch withdraws it; the
        firer's claim then finds it gone); False when a firer claimed it first."""
        return self._cancel(order, OrderItem.status == lc.BUILT, code, message, at)

    def _cancel(
        self, order: OrderItem, condition: Condition, code: str, message: str, at: str
    ) -> bool:
        entry = {"at": at, "status": lc.CANCELLED, "filled_quantity": 0, "average_price": None,
                 "message": message}  # fmt: skip
        return self._append(
            order,
            entry,
            lambda _: [
                OrderItem.status.set(lc.CANCELLED),
                OrderItem.error.set({"code": code, "message": message}),
                OrderItem.updated_at.set(now_iso()),
            ],
            condition,
            lambda o: o.status == lc.CANCELLED and (o.error or {}).get("code") == code,
        )

    # -- the risk monitor's intents ------------------------------------------------------------
    def claim_intent(self, order: OrderItem, sent_at: str) -> bool:
        """BUILT -> SENT, on condition: of every actor holding the same intent (two monitors, a
        restarted one, recovery) exactly one wins and places the order; False for the others."""
        return self._transition(
            order,
            [OrderItem.status.set(lc.SENT), OrderItem.sent_at.set(sent_at),
             OrderItem.updated_at.set(now_iso())],
            OrderItem.status == lc.BUILT,
            _never,  # two actors may stamp the same instant: only the write decides
        )  # fmt: skip

    def abandon_intent(self, order: OrderItem, message: str, at: str) -> bool:
        """BUILT -> FAILED (``never_sent``): an intent nobody sent (its actor lost the book's
        claim, or died before sending) can never be sent later. False when it was sent."""
        return self._never_sent(order, message, at, OrderItem.status == lc.BUILT)

    def intent_never_reached(self, order: OrderItem, message: str, at: str) -> bool:
        """SENT without a broker id -> FAILED (``never_sent``) once the broker's book has had time
        to show the tag and does not: only then may a fresh order (a new tag) replace it."""
        condition = (OrderItem.status == lc.SENT) & OrderItem.broker_order_id.does_not_exist()
        return self._never_sent(order, message, at, condition)

    def record_intent_outcome(
        self, order: OrderItem, status: str, entry: dict[str, Any], **fields: Any
    ) -> bool:
        """The broker's answer to a placement (ack or refusal), written only while the order is
        still SENT: another actor that found it by tag meanwhile may have recorded more (a fill
        applied to the position); a late answer never overwrites that."""
        actions = [OrderItem.status.set(status), OrderItem.updated_at.set(now_iso())]
        actions += [getattr(OrderItem, name).set(value) for name, value in fields.items()]
        return self._append(order, entry, lambda _: actions, OrderItem.status == lc.SENT, _never)

    def _never_sent(self, order: OrderItem, message: str, at: str, condition: Condition) -> bool:
        error = {"kind": "never_sent", "code": "never_sent", "message": message}
        entry = {"at": at, "status": lc.FAILED, "filled_quantity": 0, "average_price": None,
                 "message": message}  # fmt: skip
        return self._append(
            order,
            entry,
            lambda _: [OrderItem.status.set(lc.FAILED), OrderItem.error.set(error),
                       OrderItem.updated_at.set(now_iso())],
            condition,
            _never,  # True only for the write that moved it: its caller may send a fresh order
        )  # fmt: skip


def _never(order: OrderItem) -> bool:
    """A refused write of an intent is never taken for our own retried one (a caller acting on
    a False would at worst retry; acting on a wrong True could send twice)."""
    return False


def _claimed_by(token: str) -> Condition:
    """Still claimed by ``token``, unsent and unacknowledged."""
    return (
        (OrderItem.status == lc.CLAIMED)
        & (OrderItem.claim_token == token)
        & OrderItem.broker_order_id.does_not_exist()
        & OrderItem.sent_at.does_not_exist()
    )


def claim_is_stale(before: str | None) -> Condition | None:
    """The condition that an order's claim, if any, is older than ``before`` (its claimer is
    gone): only then may someone other than the claimer record it never sent or resend it."""
    if before is None:
        return None
    return OrderItem.claim_token.does_not_exist() | (OrderItem.claimed_at < before)
