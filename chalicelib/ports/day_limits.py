"""What the account day limits need from storage: the accounts that carry limits, and the day's
positions they are judged on.

``DayLimitAccounts`` is implemented by ``adapters/dynamo/repository.Repository`` and
``PositionSource`` by the execution store (same names and signatures). ``save_account`` is an
optimistic write: it refuses a record whose ``version`` is no longer the stored one with
``ConcurrentChange`` (a PATCH of the account raced the mark), and bumps the version when it
succeeds. ``get_account`` raises ``NotFound`` for an account that is not the user's.
"""

from __future__ import annotations

from typing import Protocol

from chalicelib.domain.records import AccountRecord, PositionRecord


class DayLimitAccounts(Protocol):
    def all_accounts(self) -> list[AccountRecord]:
        """Every broker account of every user (the limits are checked across all of them)."""
        ...

    def get_account(self, uid: str, account_id: str) -> AccountRecord: ...

    def save_account(self, item: AccountRecord) -> None: ...


class PositionSource(Protocol):
    def positions(
        self, uid: str, strategy_id: str | None = None, *, consistent: bool = False
    ) -> list[PositionRecord]: ...
