"""The profile use cases over the in-memory store, and the pooled broker factory."""

from __future__ import annotations

from datetime import datetime

import pytest

from chalicelib.adapters.brokers.pooled import PooledBrokers
from chalicelib.domain.calendar import IST
from chalicelib.errors import ConcurrentChange
from chalicelib.ports.identity import Tokens
from chalicelib.services.identity import IdentityService
from tests.fakes.accounts import MemoryAccounts

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=IST)


class Provider:
    def __init__(self) -> None:
        self.confirmed: list[str] = []

    def sign_up(self, email: str, password: str) -> str:
        return "uid-" + email.split("@")[0]

    def admin_confirm(self, email: str) -> None:
        self.confirmed.append(email)

    def confirm(self, email: str, code: str) -> None: ...

    def login(self, email: str, password: str) -> Tokens:
        return Tokens("id", "access", "refresh", 3600)

    def refresh(self, refresh_token: str) -> Tokens:
        return Tokens("id", "access", refresh_token, 3600)


def test_sign_up_stores_the_normalised_profile_once():
    store, provider = MemoryAccounts(clock=lambda: NOW), Provider()
    identity = IdentityService(provider, store, auto_confirm=True)
    profile, confirmed = identity.sign_up(" Asha@Example.COM ", "pw", "Asha  Rao", "+91 98765 43210",
                                          "Karnataka")  # fmt: skip
    assert confirmed and provider.confirmed == ["asha@example.com"]
    stored = store.get_profile(profile.uid)
    assert (stored.email, stored.phone) == ("asha@example.com", profile.phone)
    assert stored.created_at == NOW.isoformat(timespec="milliseconds")
    with pytest.raises(ConcurrentChange):  # the same uid never gets a second profile
        identity.sign_up("asha@example.com", "pw", "Asha", "+919876543210", "Karnataka")


def test_a_profile_update_changes_only_what_was_given():
    store = MemoryAccounts(clock=lambda: NOW)
    identity = IdentityService(Provider(), store, auto_confirm=False)
    profile, confirmed = identity.sign_up("a@b.in", "pw", "Asha", "+919876543210", "Karnataka")
    assert not confirmed
    updated = identity.update_profile(profile.uid, name="Asha R", phone=None, state=None)
    assert (updated.name, updated.phone, updated.state) == ("Asha R", profile.phone, profile.state)
    assert identity.profile(profile.uid) == updated


def test_every_adapter_of_a_broker_shares_one_client_and_the_limiter():
    built = []
    limiter = object()
    pooled = PooledBrokers(limiter, build=lambda broker, credentials, **kw: built.append(kw) or kw,
                           client=lambda: object())  # type: ignore[arg-type]  # fmt: skip
    pooled("zerodha", None, account="A1", hosts=None, now=lambda: NOW)
    pooled("zerodha", None, account="A2", hosts=None, now=lambda: NOW)
    pooled("upstox", None, account="U1", hosts=None, now=lambda: NOW)
    assert built[0]["client"] is built[1]["client"] is not built[2]["client"]
    assert {id(b["limiter"]) for b in built} == {id(limiter)}
    assert [b["account"] for b in built] == ["A1", "A2", "U1"]
