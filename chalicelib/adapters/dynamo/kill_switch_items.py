"""Kill-switch storage: one item per engaged switch, which is also its square-off operation.

``PK = USER#<uid>``, ``SK = KILL#<scope>#<id or ALL>``: the planner reads every switch of a user
with one Query (``begins_with KILL#``) and decides locally which strategy or account is blocked.

Engaging is a conditional put (``attribute_not_exists``): of two concurrent requests on one scope
exactly one creates the operation, the other joins it. While the operation is ENGAGING the item
is in the sparse GSI1 partition ``KILLOPS`` sorted by its next attempt, so the driver (the clock
loop, the scheduled Lambda) finds the operations due with one Query; reaching FLAT removes it.
A pass is claimed with a conditional write on ``pass_until`` so overlapping drivers never run the
same operation's pass twice at once. Releasing deletes the item.
"""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DeleteError, PutError, UpdateError

from chalicelib.adapters.dynamo.models import BaseItem, user_pk
from chalicelib.adapters.dynamo.repository import _lost_race, guarded, now_iso
from chalicelib.domain.kill_switch import ALL, ENGAGING, FLAT, PassState, empty_summary
from chalicelib.errors import DependencyUnavailable

__all__ = ["ALL", "ENGAGING", "FLAT", "KillSwitchItem", "KillSwitchRepository"]
DUE_INDEX = "KILLOPS"


class KillSwitchItem(BaseItem, discriminator="KILL"):
    """An engaged kill switch and its square-off operation (scope all | account | strategy)."""

    uid = UnicodeAttribute()
    scope = UnicodeAttribute()
    target = UnicodeAttribute()  # the account or strategy id, or ALL
    reason = UnicodeAttribute(default="")
    engaged_by = UnicodeAttribute()
    engaged_at = UnicodeAttribute()
    operation_id = UnicodeAttribute(null=True)
    status = UnicodeAttribute(default=ENGAGING)  # ENGAGING until a pass finds the scope flat
    attempts = NumberAttribute(default=0)  # passes run so far
    next_attempt_at = UnicodeAttribute(null=True)  # ISO (IST); the driver runs the pass then
    pass_until = NumberAttribute(default=0)  # epoch s: a pass is running until then (claim)
    flat_at = UnicodeAttribute(null=True)
    alerted = NumberAttribute(default=0)
    summary = JSONAttribute(null=True)  # cumulative: cancelled, square_off, open, blocked, errors
    events = JSONAttribute(null=True)  # the passes and alerts, newest last (bounded)

    @staticmethod
    def key(uid: str, scope: str, target: str | None) -> tuple[str, str]:
        return user_pk(uid), f"KILL#{scope}#{target or ALL}"

    def schedule(self, at_iso: str | None) -> None:
        """Put the operation in the driver's index at ``at_iso``, or take it out (None)."""
        self.next_attempt_at = at_iso
        self.gsi1pk = DUE_INDEX if at_iso else None
        self.gsi1sk = f"{at_iso}#{self.uid}#{self.scope}#{self.target}" if at_iso else None


class KillSwitchRepository:
    """One method per access pattern of kill-switch items (the ``KillSwitchStore`` port)."""

    def open(
        self,
        uid: str,
        scope: str,
        target: str,
        *,
        reason: str,
        engaged_by: str,
        engaged_at: str,
        operation_id: str,
    ) -> KillSwitchItem | None:
        """Engage: the new operation, in the driver's index at ``engaged_at``; None when the
        scope already has one. Goes through ``create`` (which listeners wrap)."""
        item = KillSwitchItem(
            *KillSwitchItem.key(uid, scope, target),
            uid=uid,
            scope=scope,
            target=target,
            reason=reason,
            engaged_by=engaged_by,
            engaged_at=engaged_at,
            operation_id=operation_id,
            status=ENGAGING,
            attempts=0,
            pass_until=0,
            summary=empty_summary(),
            events=[],
        )
        item.schedule(engaged_at)
        return item if self.create(item) else None

    def record_pass(self, item: KillSwitchItem, state: PassState) -> bool:
        """Write a pass's outcome on ``item`` and clear its pass claim; the driver's index
        follows ``next_attempt_at``. Goes through ``save`` (which listeners wrap)."""
        item.attempts = state.attempts
        item.status = state.status
        item.flat_at = state.flat_at
        item.alerted = state.alerted
        item.summary = state.summary
        item.events = state.events
        item.pass_until = 0
        item.schedule(state.next_attempt_at)
        return self.save(item)

    def create(self, item: KillSwitchItem) -> bool:
        """Engage: True when this call created the operation, False when one already exists."""
        item.created_at = item.updated_at = now_iso()
        try:
            item.save(condition=KillSwitchItem.pk.does_not_exist())
        except PutError as error:
            if _lost_race(error):
                return False
            raise DependencyUnavailable("storage is unavailable; retry shortly") from error
        return True

    def get(self, uid: str, scope: str, target: str | None) -> KillSwitchItem | None:
        def load() -> KillSwitchItem | None:
            try:
                return KillSwitchItem.get(
                    *KillSwitchItem.key(uid, scope, target), consistent_read=True
                )
            except KillSwitchItem.DoesNotExist:
                return None

        return guarded(load)

    def save(self, item: KillSwitchItem) -> bool:
        """Write a pass's outcome; False when the switch was released meanwhile."""
        item.updated_at = now_iso()
        try:
            item.save(condition=KillSwitchItem.pk.exists())
        except PutError as error:
            if _lost_race(error):
                return False
            raise DependencyUnavailable("storage is unavailable; retry shortly") from error
        return True

    def claim_pass(self, item: KillSwitchItem, now: float, hold: float) -> bool:
        """Run the next pass of this operation: nobody else's pass runs until ``now + hold``."""
        try:
            item.update(
                actions=[KillSwitchItem.pass_until.set(now + hold)],
                condition=(KillSwitchItem.status == ENGAGING) & (KillSwitchItem.pass_until <= now),
            )
        except UpdateError as error:
            if _lost_race(error):
                return False
            raise DependencyUnavailable("storage is unavailable; retry shortly") from error
        return True

    def active(self, uid: str) -> list[KillSwitchItem]:
        return guarded(
            lambda: list(
                KillSwitchItem.query(
                    user_pk(uid), BaseItem.sk.startswith("KILL#"), consistent_read=True
                )
            )
        )

    def due(self, now_iso_: str) -> list[KillSwitchItem]:
        """Every ENGAGING operation whose next attempt is at or before ``now_iso_`` (GSI1)."""
        return guarded(
            lambda: [
                item
                for item in BaseItem.gsi1.query(DUE_INDEX, BaseItem.gsi1sk <= f"{now_iso_}#~")
                if isinstance(item, KillSwitchItem)
            ]
        )

    def engaging(self) -> bool:
        """Whether any operation anywhere is still ENGAGING (one GSI1 Query, one item)."""
        return guarded(lambda: any(True for _ in BaseItem.gsi1.query(DUE_INDEX, limit=1)))

    def delete(self, uid: str, scope: str, target: str | None) -> bool:
        """Release; False when no such switch was engaged."""
        item = KillSwitchItem(*KillSwitchItem.key(uid, scope, target))
        try:
            item.delete(condition=KillSwitchItem.pk.exists())
        except DeleteError as error:
            if _lost_race(error):
                return False
            raise DependencyUnavailable("storage is unavailable; retry shortly") from error
        return True
