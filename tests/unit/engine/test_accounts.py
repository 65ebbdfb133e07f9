"""Broker account decisions over the in-memory stores: duplicates, quote sources, versions,
what may be deleted, and no half-made paper account."""

from __future__ import annotations

from datetime import datetime

import pytest

from chalicelib.api.strategy_schemas import StrategyIn
from chalicelib.domain.calendar import IST
from chalicelib.errors import ConcurrentChange, Conflict, DependencyUnavailable, ValidationFailed
from chalicelib.services.accounts import AccountService
from chalicelib.services.baskets import BasketService
from chalicelib.services.strategies import StrategyService
from tests.factories import four_leg_strategy
from tests.fakes.accounts import FakeCipher, MemoryAccounts

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=IST)
UID = "u1"


@pytest.fixture
def store() -> MemoryAccounts:
    return MemoryAccounts(clock=lambda: NOW)


def service(store: MemoryAccounts, open_paper=None) -> AccountService:
    return AccountService(store, FakeCipher(), open_paper=open_paper)


def zerodha(accounts: AccountService, client_id: str = "ZX1", uid: str = UID):
    return accounts.create(uid, broker="zerodha", client_id=client_id, label="main",
                           secrets={"api_key": "k", "api_secret": "s"}, static_ip_note=None)  # fmt: skip


def test_secrets_are_sealed_for_their_owner_and_an_update_merges_them(store):
    accounts = service(store)
    account = zerodha(accounts)
    sealed = store.get_account(UID, account.account_id).secret_blob
    assert sealed is not None
    with pytest.raises(PermissionError):
        FakeCipher().open(sealed, owner="u2")
    updated = accounts.update(UID, account.account_id, label=None, static_ip_note=None,
                              secrets={"api_secret": "s2"}, version=1)  # fmt: skip
    assert FakeCipher().open(updated.secret_blob, owner=UID) == {"api_key": "k", "api_secret": "s2"}
    assert store.get_account(UID, account.account_id).version == 2


def test_the_same_broker_client_is_connected_once_per_user(store):
    accounts = service(store)
    zerodha(accounts)
    with pytest.raises(Conflict) as error:
        zerodha(accounts)
    assert error.value.code == "duplicate_account"
    zerodha(accounts, uid="u2")  # another user's identical client id is theirs


def test_a_paper_account_whose_opening_fails_is_not_left_behind(store):
    def open_paper(account):
        raise DependencyUnavailable("the simulator is down")

    accounts = service(store, open_paper=open_paper)
    with pytest.raises(DependencyUnavailable):
        accounts.create(UID, broker="paper", client_id="P1", label="paper", secrets={},
                        static_ip_note=None)  # fmt: skip
    assert store.list_accounts(UID) == []


def test_a_paper_account_is_opened_with_its_session(store):
    opened = []
    accounts = service(store, open_paper=lambda account: opened.append(account.account_id))
    account = accounts.create(UID, broker="paper", client_id="P1", label="paper", secrets={},
                              static_ip_note=None)  # fmt: skip
    assert opened == [account.account_id]


def test_the_quote_source_must_be_one_of_the_users_live_accounts(store):
    accounts = service(store)
    live = zerodha(accounts)
    other = zerodha(accounts, client_id="ZX9", uid="u2")
    paper = accounts.create(UID, broker="paper", client_id="P1", label="paper", secrets={},
                            static_ip_note=None, quote_account_id=live.account_id)  # fmt: skip
    assert paper.quote_account_id == live.account_id
    for bad in (other.account_id, paper.account_id):
        with pytest.raises(ValidationFailed) as error:
            accounts.update(UID, paper.account_id, label=None, static_ip_note=None, secrets=None,
                            version=None, quote_account_id=bad)  # fmt: skip
        assert error.value.field == "quote_account_id"
    with pytest.raises(ValidationFailed):  # a live account takes no quote source
        accounts.update(UID, live.account_id, label=None, static_ip_note=None, secrets=None,
                        version=None, quote_account_id=paper.account_id)  # fmt: skip


def test_a_stale_version_is_refused_and_a_concurrent_save_is_not_overwritten(store):
    accounts = service(store)
    account = zerodha(accounts)
    with pytest.raises(Conflict):
        accounts.update(UID, account.account_id, label="x", static_ip_note=None, secrets=None,
                        version=5)  # fmt: skip

    def rename_meanwhile() -> None:
        stored = store.accounts[(UID, account.account_id)]
        stored.label, stored.version = "theirs", 2

    store.before_next_write(rename_meanwhile)
    with pytest.raises(ConcurrentChange):
        accounts.update(UID, account.account_id, label="mine", static_ip_note=None,
                        secrets=None, version=None)  # fmt: skip
    assert store.get_account(UID, account.account_id).label == "theirs"


def test_day_limits_are_stored_as_plain_decimal_text(store):
    from decimal import Decimal

    accounts = service(store)
    account = zerodha(accounts)
    updated = accounts.update(UID, account.account_id, label=None, static_ip_note=None,
                              secrets=None, version=None,
                              day_limits={"daily_loss_limit": Decimal("1E+2"),
                                          "daily_profit_target": None})  # fmt: skip
    assert updated.daily_loss_limit == "100" and updated.daily_profit_target is None


def test_an_account_in_use_is_not_deleted_and_a_free_one_takes_its_session_with_it(store):
    accounts = service(store)
    used, free = zerodha(accounts), zerodha(accounts, client_id="ZX2")
    basket = BasketService(store).create(UID, "b", enabled=True)
    body = four_leg_strategy(basket.basket_id, used.account_id, used.account_id)
    body["allocations"] = [{"account_id": used.account_id, "multiplier": 1}]
    for leg in body["legs"]:
        leg.pop("allocations", None)
    StrategyService(store, lambda: NOW).create(UID, StrategyIn.model_validate(body).to_domain())
    with pytest.raises(Conflict) as error:
        accounts.delete(UID, used.account_id)
    assert error.value.code == "account_in_use"

    store.store_session(UID, free.account_id, broker="zerodha", sealed={}, expires=NOW)
    accounts.delete(UID, free.account_id)
    assert [a.account_id for a in store.list_accounts(UID)] == [used.account_id]
    assert store.get_session(UID, free.account_id) is None


def test_a_live_account_quoting_for_a_paper_one_is_not_deleted(store):
    accounts = service(store)
    live = zerodha(accounts)
    accounts.create(UID, broker="paper", client_id="P1", label="paper", secrets={},
                    static_ip_note=None, quote_account_id=live.account_id)  # fmt: skip
    with pytest.raises(Conflict) as error:
        accounts.delete(UID, live.account_id)
    assert error.value.code == "account_in_use"
