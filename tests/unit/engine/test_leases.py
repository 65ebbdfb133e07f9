"""The close lease every closer takes (``services/leases.py``) on the in-memory store: one
holder at a time, renewal by its holder, expiry bounding a crashed holder, release by owner only."""

from __future__ import annotations

from datetime import timedelta

from chalicelib.services.leases import Leases
from tests.fakes.leases import FakeLeaseStore
from tests.unit.engine.firing_rig import T, Ticker

KEY = ("u1", "s1", "a1")


def leases(clock: Ticker, store: FakeLeaseStore | None = None) -> Leases:
    return Leases(
        store or FakeLeaseStore(), clock.wall, sleep=clock.sleep, monotonic=clock.monotonic
    )


def test_one_holder_at_a_time_and_the_holder_renews():
    clock = Ticker(T)
    lease = leases(clock)
    assert lease.acquire(*KEY, owner="kill:op1", ttl=30)
    assert not lease.acquire(*KEY, owner="exit:x1", ttl=30)
    assert lease.acquire(*KEY, owner="kill:op1", ttl=30)  # re-entrant: a renewal
    assert lease.acquire("u1", "s1", "a2", owner="exit:x1")  # another account is free


def test_an_expired_lease_is_taken_over_and_its_old_holder_cannot_release_the_new_one():
    clock = Ticker(T)
    lease = leases(clock)
    assert lease.acquire(*KEY, owner="risk:crashed", ttl=5)
    clock.sleep(5.5)
    assert lease.acquire(*KEY, owner="exit:x1", ttl=30)
    assert not lease.release(*KEY, owner="risk:crashed")
    assert not lease.acquire(*KEY, owner="kill:op1")  # still the exit's


def test_held_releases_on_the_way_out_only_what_it_took():
    clock = Ticker(T)
    store = FakeLeaseStore()
    lease = leases(clock, store)
    with lease.held(*KEY, owner="exit:x1") as ok:
        assert ok and store.holder(*KEY).owner == "exit:x1"
    assert store.holder(*KEY) is None
    assert lease.acquire(*KEY, owner="kill:op1")
    with lease.held(*KEY, owner="exit:x1") as ok:
        assert not ok
    assert store.holder(*KEY).owner == "kill:op1"  # not released by who never held it


def test_release_family_drops_only_an_owner_of_that_family():
    clock = Ticker(T)
    store = FakeLeaseStore()
    lease = leases(clock, store)
    lease.acquire(*KEY, owner="kill:op1")
    assert not lease.release_family(*KEY, prefix="exit:")
    lease.release(*KEY, owner="kill:op1")
    lease.acquire(*KEY, owner="exit:x1#leg0")
    assert lease.release_family(*KEY, prefix="exit:")
    assert store.holder(*KEY) is None


def test_wait_retries_until_the_holder_lets_go_or_patience_runs_out():
    clock = Ticker(T)
    lease = leases(clock)
    lease.acquire(*KEY, owner="risk:b1", ttl=2)
    started = clock.wall()
    assert lease.wait(*KEY, owner="exit:x1", patience=10, every=0.25)  # after the 2 s expiry
    assert timedelta(seconds=2) <= clock.wall() - started < timedelta(seconds=3)
    assert not lease.wait(*KEY, owner="kill:op1", patience=1, every=0.25)
