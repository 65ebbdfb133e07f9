"""Broker accounts. Secrets are sealed with KMS envelope encryption before they are stored and are
never returned. Sessions (OAuth) arrive with the broker adapters; a paper account gets its session
from the simulated exchange when it is created (no credentials, no daily login)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from chalicelib.domain.brokers import PAPER
from chalicelib.domain.records import AccountRecord, SessionRecord
from chalicelib.domain.strategy_documents import from_document
from chalicelib.errors import Conflict, DomainError, NotFound, ValidationFailed
from chalicelib.ports.accounts import AccountStore
from chalicelib.ports.secrets import Cipher
from chalicelib.services.strategies import _check_version, new_id


@dataclass
class AccountService:
    repo: AccountStore
    cipher: Cipher
    # Opens a paper account at the simulated exchange with its session (broker_sessions).
    open_paper: Callable[[AccountRecord], SessionRecord | None] | None = None

    def create(
        self,
        uid: str,
        *,
        broker: str,
        client_id: str,
        label: str,
        secrets: dict[str, str],
        static_ip_note: str | None,
        quote_account_id: str | None = None,
    ) -> AccountRecord:
        if quote_account_id is not None:
            self._check_quote_source(uid, broker, quote_account_id, own_id=None)
        if any(a.broker == broker and a.client_id == client_id for a in self.list(uid)):
            raise Conflict(
                f"{broker} account {client_id} is already connected", code="duplicate_account"
            )
        item = self.repo.create_account(
            uid,
            new_id(),
            broker=broker,
            client_id=client_id,
            label=label,
            static_ip_note=static_ip_note,
            secret_blob=self.cipher.seal(secrets, owner=uid) if secrets else None,
            quote_account_id=quote_account_id,
        )
        if broker == PAPER.name and not secrets and self.open_paper is not None:
            try:
                self.open_paper(item)
            except DomainError:
                with contextlib.suppress(DomainError):
                    self.repo.delete_account(item)  # no half-made account to clean up by hand
                raise
        return item

    def list(self, uid: str) -> Sequence[AccountRecord]:
        return self.repo.list_accounts(uid)

    def get(self, uid: str, account_id: str) -> AccountRecord:
        return self.repo.get_account(uid, account_id)

    def session(self, uid: str, account_id: str) -> SessionRecord | None:
        """The account's broker session, if it has one (a paper account's opens at creation)."""
        return self.repo.get_session(uid, account_id)

    def sessions(self, uid: str) -> dict[str, SessionRecord]:
        """The user's broker sessions by account id."""
        return self.repo.sessions_of(uid)

    def update(
        self,
        uid: str,
        account_id: str,
        *,
        label: str | None,
        static_ip_note: str | None,
        secrets: dict[str, str] | None,
        version: int | None,
        quote_account_id: str | None = None,
        day_limits: Mapping[str, Decimal | None] | None = None,
    ) -> AccountRecord:
        item = self.repo.get_account(uid, account_id)
        _check_version(item.version, version)
        if quote_account_id is not None:
            if quote_account_id:
                self._check_quote_source(uid, item.broker, quote_account_id, own_id=account_id)
            item.quote_account_id = quote_account_id or None
        for name, value in (day_limits or {}).items():  # daily_loss_limit, daily_profit_target
            setattr(item, name, None if value is None else format(value, "f"))  # 1E+2 -> 100
        if label is not None:
            item.label = label
        if static_ip_note is not None:
            item.static_ip_note = static_ip_note
        if secrets:
            current = self.cipher.open(item.secret_blob, owner=uid) if item.secret_blob else {}
            item.secret_blob = self.cipher.seal({**current, **secrets}, owner=uid)
        self.repo.save_account(item)
        return item

    def delete(self, uid: str, account_id: str) -> None:
        item = self.repo.get_account(uid, account_id)
        for strategy in self.repo.list_strategies(uid):
            if account_id in from_document(strategy.spec).account_ids():
                raise Conflict(
                    f"strategy {strategy.strategy_id} trades on this account; "
                    "remove it from the strategy's allocations first",
                    code="account_in_use",
                )
        for other in self.repo.list_accounts(uid):
            if other.quote_account_id == account_id:
                raise Conflict(
                    f"paper account {other.account_id} takes its quotes from this account; "
                    "choose another quote source for it first",
                    code="account_in_use",
                )
        self.repo.delete_account(item)

    def _check_quote_source(
        self, uid: str, broker: str, quote_account_id: str, *, own_id: str | None
    ) -> None:
        """A paper account's quotes come from one of the same user's live accounts."""
        if broker != PAPER.name:
            raise ValidationFailed(
                "only a paper account takes a quote source", field="quote_account_id"
            )
        try:
            source = self.repo.get_account(uid, quote_account_id)
        except NotFound:  # another user's account looks exactly like a missing one
            raise ValidationFailed(
                f"no account {quote_account_id} of yours to take quotes from",
                field="quote_account_id",
            ) from None
        if source.broker == PAPER.name or source.account_id == own_id:
            raise ValidationFailed(
                "the quote source must be a live broker account, not a paper one",
                field="quote_account_id",
            )
