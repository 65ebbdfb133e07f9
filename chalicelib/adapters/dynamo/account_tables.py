"""Profiles, broker accounts, broker sessions and pending logins (part of ``Repository``).

The ``create_*`` / ``store_session`` methods build the items from domain values, so the services
(``chalicelib/ports/accounts.py``) never construct a PynamoDB item or its keys.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import DeleteError
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamo.guarded import _lost_race, guarded, now_iso
from chalicelib.adapters.dynamo.models import (
    AccountItem,
    BaseItem,
    OAuthStateItem,
    ProfileItem,
    SessionItem,
)
from chalicelib.adapters.dynamo.table_access import TableAccess
from chalicelib.errors import DependencyUnavailable, NotFound

#: A session item outlives its broker expiry by this long (TTL), for the readiness view.
SESSION_RETENTION = timedelta(days=7)


class AccountTables(TableAccess):
    # -- profiles ------------------------------------------------------------------------------
    def create_profile(
        self, uid: str, *, email: str, name: str, phone: str, state: str
    ) -> ProfileItem:
        """A new user's profile; refused (ConcurrentChange) if the user already has one."""
        item = ProfileItem(
            *ProfileItem.key(uid), uid=uid, email=email, name=name, phone=phone, state=state
        )
        self.put_profile(item)
        return item

    def put_profile(self, item: ProfileItem) -> None:
        item.created_at = item.updated_at = now_iso()
        guarded(lambda: item.save(ProfileItem.pk.does_not_exist()))

    def get_profile(self, uid: str) -> ProfileItem:
        return self._get(ProfileItem, ProfileItem.key(uid))

    def save_profile(self, item: ProfileItem) -> None:
        item.updated_at = now_iso()
        guarded(lambda: item.save(ProfileItem.pk.exists()))

    # -- broker accounts -----------------------------------------------------------------------
    def create_account(
        self,
        uid: str,
        account_id: str,
        *,
        broker: str,
        client_id: str,
        label: str,
        static_ip_note: str | None,
        secret_blob: dict[str, Any] | None,
        quote_account_id: str | None,
    ) -> AccountItem:
        """A new broker account, listed for the readiness job (GSI1 ``ACCOUNTS``)."""
        gsi1pk, gsi1sk = AccountItem.all_accounts_key(uid, account_id)
        item = AccountItem(
            *AccountItem.key(uid, account_id),
            gsi1pk=gsi1pk,
            gsi1sk=gsi1sk,
            uid=uid,
            account_id=account_id,
            broker=broker,
            client_id=client_id,
            label=label,
            static_ip_note=static_ip_note,
            secret_blob=secret_blob,
            quote_account_id=quote_account_id,
        )
        self.put_account(item)
        return item

    def put_account(self, item: AccountItem) -> None:
        item.created_at = item.updated_at = now_iso()
        guarded(lambda: item.save(AccountItem.pk.does_not_exist()))

    def save_account(self, item: AccountItem) -> None:
        """Save on condition of the version read (PynamoDB adds it for a versioned model)."""
        item.updated_at = now_iso()
        guarded(lambda: item.save())

    def get_account(self, uid: str, account_id: str) -> AccountItem:
        return self._get(AccountItem, AccountItem.key(uid, account_id))

    def list_accounts(self, uid: str) -> list[AccountItem]:
        return self._query_user(AccountItem, uid, "ACCOUNT#")

    def delete_account(self, item: AccountItem) -> None:
        def write(tx: TransactWrite) -> None:
            tx.delete(item)
            tx.delete(SessionItem(*SessionItem.key(item.uid, item.account_id)))

        self._transact(write)

    def all_accounts(self) -> list[AccountItem]:
        return guarded(
            lambda: [
                item for item in BaseItem.gsi1.query("ACCOUNTS") if isinstance(item, AccountItem)
            ]
        )

    # -- broker sessions and pending logins ----------------------------------------------------
    def create_oauth_state(
        self, state: str, *, uid: str, account_id: str, broker: str, expires: datetime
    ) -> None:
        """A pending login, single use, dropped by the table's TTL once ``expires`` passed."""
        item = OAuthStateItem(
            *OAuthStateItem.key(state),
            uid=uid,
            account_id=account_id,
            broker=broker,
            expires_at=expires.isoformat(),
            ttl=expires,
        )
        self.put_oauth_state(item)

    def put_oauth_state(self, item: OAuthStateItem) -> None:
        item.created_at = now_iso()
        guarded(lambda: item.save(OAuthStateItem.pk.does_not_exist()))

    def take_oauth_state(self, state: str) -> OAuthStateItem | None:
        """Read and delete a pending login; the conditional delete makes a state work once."""
        try:
            item = self._get(OAuthStateItem, OAuthStateItem.key(state))
        except NotFound:
            return None
        try:
            item.delete(condition=OAuthStateItem.pk.exists())
        except DeleteError as error:
            if _lost_race(error):
                return None  # consumed by a concurrent callback
            raise DependencyUnavailable("storage is unavailable; retry shortly") from error
        return item

    def store_session(
        self,
        uid: str,
        account_id: str,
        *,
        broker: str,
        sealed: dict[str, Any],
        expires: datetime,
    ) -> SessionItem:
        """Today's session of an account, replacing the one before."""
        item = SessionItem(
            *SessionItem.key(uid, account_id),
            uid=uid,
            account_id=account_id,
            broker=broker,
            sealed=sealed,
            expires_at=expires.isoformat(),
            ttl=expires + SESSION_RETENTION,
        )
        self.put_session(item)
        return item

    def put_session(self, item: SessionItem) -> None:
        item.created_at = item.updated_at = now_iso()
        guarded(lambda: item.save())

    def sessions_of(self, uid: str) -> dict[str, SessionItem]:
        items = self._query_user(SessionItem, uid, "SESSION#")
        return {item.account_id: item for item in items}

    def get_session(self, uid: str, account_id: str) -> SessionItem | None:
        try:
            return self._get(SessionItem, SessionItem.key(uid, account_id))
        except NotFound:
            return None
