"""Kill-switch storage: one item per engaged switch, read with one Query per user.

``PK = USER#<uid>``, ``SK = KILL#<scope>#<id or ALL>``: the planner reads every switch of a user
with one Query (``begins_with KILL#``) and decides locally which strategy or account is blocked.
Releasing deletes the item; re-engaging overwrites who / when / why.
"""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, UnicodeAttribute
from pynamodb.exceptions import DeleteError

from chalicelib.adapters.dynamo.models import BaseItem, user_pk
from chalicelib.adapters.dynamo.repository import _lost_race, guarded, now_iso
from chalicelib.errors import DependencyUnavailable

ALL = "ALL"


class KillSwitchItem(BaseItem, discriminator="KILL"):
    """An engaged kill switch: scope all | account | strategy, who engaged it, when and why."""

    uid = UnicodeAttribute()
    scope = UnicodeAttribute()
    target = UnicodeAttribute()  # the account or strategy id, or ALL
    reason = UnicodeAttribute(default="")
    engaged_by = UnicodeAttribute()
    engaged_at = UnicodeAttribute()
    summary = JSONAttribute(null=True)  # what engaging cancelled and squared off

    @staticmethod
    def key(uid: str, scope: str, target: str | None) -> tuple[str, str]:
        return user_pk(uid), f"KILL#{scope}#{target or ALL}"


class KillSwitchRepository:
    """One method per access pattern of kill-switch items."""

    def put(self, item: KillSwitchItem) -> None:
        item.created_at = item.updated_at = now_iso()
        guarded(lambda: item.save())

    def save(self, item: KillSwitchItem) -> None:
        item.updated_at = now_iso()
        guarded(lambda: item.save())

    def active(self, uid: str) -> list[KillSwitchItem]:
        return guarded(
            lambda: list(KillSwitchItem.query(user_pk(uid), BaseItem.sk.startswith("KILL#")))
        )

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
