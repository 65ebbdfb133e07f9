"""Which quotes a user's strikes and P&L come from (services/quote_choice.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from chalicelib.domain.calendar import IST
from chalicelib.services.broker_access import SessionUnavailable
from chalicelib.services.quote_choice import QuoteChoice
from tests.fakes.accounts import MemoryAccounts

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=IST)
UID = "u1"


class Adapter:
    def __init__(self, account_id: str, indices: bool = True) -> None:
        self.account_id, self.indices = account_id, indices


class Fallback:
    name, live, note = "synthetic", False, "made up"


@pytest.fixture
def store() -> MemoryAccounts:
    store = MemoryAccounts(clock=lambda: NOW)
    for account_id, broker in (("U1", "upstox"), ("P1", "paper"), ("P2", "paper"),
                               ("Z1", "zerodha")):  # fmt: skip
        store.create_account(UID, account_id, broker=broker, client_id=account_id,
                             label=account_id, static_ip_note=None, secret_blob=None,
                             quote_account_id=None)  # fmt: skip
        store.store_session(UID, account_id, broker=broker, sealed={},
                            expires=NOW + timedelta(hours=20))  # fmt: skip
    return store


def choice(store, *, expired=(), no_indices=()) -> QuoteChoice:
    def adapter_for(account, session):
        if account.account_id in expired:
            raise SessionUnavailable("expired", account_id=account.account_id)
        return Adapter(account.account_id, indices=account.account_id not in no_indices)

    return QuoteChoice(store, adapter_for, lambda: None, Fallback(),  # no market: unused by the choice
                       quotes_indices=lambda adapter: adapter.indices)  # fmt: skip


def test_strikes_come_from_the_first_kite_dialect_account_that_quotes_indices(store):
    quotes = choice(store, no_indices={"P1"}).live_quotes(UID, ["U1", "P1", "P2", "Z1"])
    assert quotes is not None and quotes.name == "paper" and quotes._adapter.account_id == "P2"
    only_upstox = choice(store).live_quotes(UID, ["U1"])
    assert only_upstox is None  # no Kite-dialect account: the entry is skipped, never synthetic


def test_an_account_without_a_session_is_not_a_quote_source(store):
    store.sessions.pop((UID, "Z1"))
    assert choice(store).live_quotes(UID, ["Z1"]) is None


def test_pnl_is_marked_through_the_first_paper_account_that_can_still_quote(store):
    picked = choice(store, expired={"P1"}).quotes_of(UID)
    assert picked._adapter.account_id == "P2"
    assert isinstance(choice(store, expired={"P1", "P2"}).quotes_of(UID), Fallback)
