"""In-memory kill-switch store (``ports.kill_switch.KillSwitchStore``) with the DynamoDB store's
conditional semantics:

* ``open`` creates only when the scope has no switch (the second engage joins);
* ``claim_pass`` only while ENGAGING and no other pass holds it (``pass_until <= now``);
* ``record_pass`` and ``delete`` only while the switch exists (a release wins over a late pass).

Reads return copies, as a table read does: changing a record a service holds changes nothing
stored until a store method writes it. A conditional update refreshes the record passed in with
what is stored (PynamoDB's ``update`` returns the new item).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import fields

from chalicelib.domain.kill_switch import ALL, ENGAGING, PassState, empty_summary
from chalicelib.errors import ConcurrentChange, NotFound
from tests.fakes.records import Account, KillSwitch, Strategy

Key = tuple[str, str, str]


def _key(uid: str, scope: str, target: str | None) -> Key:
    return uid, scope, target or ALL


def _copy_into(target: object, source: object) -> None:
    for f in fields(source):  # type: ignore[arg-type]
        setattr(target, f.name, copy.deepcopy(getattr(source, f.name)))


class FakeKillSwitchStore:
    def __init__(self) -> None:
        self.items: dict[Key, KillSwitch] = {}
        self.writes: list[str] = []  # what was written, in order ("open", "claim", "record" ...)

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
    ) -> KillSwitch | None:
        key = _key(uid, scope, target)
        if key in self.items:
            return None
        item = KillSwitch(
            sk=f"KILL#{scope}#{target}", uid=uid, scope=scope, target=target, reason=reason,
            engaged_by=engaged_by, engaged_at=engaged_at, operation_id=operation_id,
            status=ENGAGING, next_attempt_at=engaged_at, summary=empty_summary(), events=[],
            created_at=engaged_at, updated_at=engaged_at,
        )  # fmt: skip
        self.items[key] = copy.deepcopy(item)
        self.writes.append("open")
        return item

    def get(self, uid: str, scope: str, target: str | None) -> KillSwitch | None:
        found = self.items.get(_key(uid, scope, target))
        return copy.deepcopy(found)

    def active(self, uid: str) -> list[KillSwitch]:
        return [copy.deepcopy(i) for (u, _, _), i in sorted(self.items.items()) if u == uid]

    def due(self, now_iso_: str) -> list[KillSwitch]:
        due = [
            i
            for i in self.items.values()
            if i.status == ENGAGING and i.next_attempt_at and i.next_attempt_at <= now_iso_
        ]
        return [copy.deepcopy(i) for i in sorted(due, key=lambda i: str(i.next_attempt_at))]

    def engaging(self) -> bool:
        return any(i.status == ENGAGING and i.next_attempt_at for i in self.items.values())

    def claim_pass(self, item: KillSwitch, now: float, hold: float) -> bool:
        stored = self.items.get(_key(item.uid, item.scope, item.target))
        if stored is None or stored.status != ENGAGING or stored.pass_until > now:
            return False
        stored.pass_until = now + hold
        _copy_into(item, stored)
        self.writes.append("claim")
        return True

    def record_pass(self, item: KillSwitch, state: PassState) -> bool:
        item.attempts = state.attempts
        item.status = state.status
        item.flat_at = state.flat_at
        item.next_attempt_at = state.next_attempt_at
        item.alerted = state.alerted
        item.summary = copy.deepcopy(state.summary)
        item.events = copy.deepcopy(state.events)
        item.pass_until = 0
        key = _key(item.uid, item.scope, item.target)
        if key not in self.items:
            return False
        self.items[key] = copy.deepcopy(item)
        self.writes.append("record")
        return True

    def delete(self, uid: str, scope: str, target: str | None) -> bool:
        self.writes.append("delete")
        return self.items.pop(_key(uid, scope, target), None) is not None


class FakeTargets:
    """The users' accounts and strategies a switch may name (``KillSwitchTargets``), and the
    accounts the day limits watch (``DayLimitAccounts``): ``save_account`` is optimistic like
    the DynamoDB one, refusing a stale ``version`` with ``ConcurrentChange``."""

    def __init__(self) -> None:
        self.accounts: dict[tuple[str, str], Account] = {}
        self.strategies: dict[tuple[str, str], Strategy] = {}
        #: called with the account before each save (a PATCH racing the writer)
        self.before_save: Callable[[Account], None] | None = None

    def all_accounts(self) -> list[Account]:
        return [copy.deepcopy(a) for _, a in sorted(self.accounts.items())]

    def save_account(self, item: Account) -> None:
        if self.before_save is not None:
            self.before_save(item)
        stored = self.accounts.get((item.uid, item.account_id))
        if stored is None or stored.version != item.version:
            raise ConcurrentChange("the item changed meanwhile", code="version_conflict")
        item.version = int(item.version or 0) + 1
        self.accounts[(item.uid, item.account_id)] = copy.deepcopy(item)

    def add_account(self, uid: str, account_id: str, **extra: object) -> Account:
        fields_ = {"broker": "zerodha", "client_id": "C1", "label": account_id, "status": "ACTIVE",
                   "version": 1}  # fmt: skip
        account = Account(
            sk=f"ACCOUNT#{account_id}", uid=uid, account_id=account_id,
            **{**fields_, **extra},  # type: ignore[arg-type]
        )  # fmt: skip
        self.accounts[(uid, account_id)] = account
        return account

    def add_strategy(self, uid: str, strategy_id: str) -> Strategy:
        strategy = Strategy(
            sk=f"STRATEGY#{strategy_id}", uid=uid, strategy_id=strategy_id, basket_id="b",
            status="ACTIVE", spec={},
        )  # fmt: skip
        self.strategies[(uid, strategy_id)] = strategy
        return strategy

    def get_account(self, uid: str, account_id: str) -> Account:
        try:
            return copy.deepcopy(self.accounts[(uid, account_id)])
        except KeyError:
            raise NotFound("account not found") from None

    def get_strategy(self, uid: str, strategy_id: str) -> Strategy:
        try:
            return copy.deepcopy(self.strategies[(uid, strategy_id)])
        except KeyError:
            raise NotFound("strategy not found") from None
