"""The monitor's adapter cache: one build per account per minute, failures never remembered."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.services.broker_access import CachedAccess


class Access:
    def __init__(self) -> None:
        self.builds: list[tuple[str, str]] = []
        self.fail = False

    def adapter(self, uid: str, account_id: str) -> Any:
        self.builds.append((uid, account_id))
        if self.fail:
            raise RuntimeError("session expired")
        return object()


def test_adapters_are_reused_for_the_ttl_then_rebuilt():
    now = [0.0]
    access = Access()
    cached = CachedAccess(access, ttl=60, monotonic=lambda: now[0])  # type: ignore[arg-type]
    first = cached.adapter("u", "A1")
    assert cached.adapter("u", "A1") is first
    assert cached.adapter("u", "A2") is not first
    now[0] = 61
    assert cached.adapter("u", "A1") is not first
    assert access.builds == [("u", "A1"), ("u", "A2"), ("u", "A1")]


def test_a_failure_is_not_cached():
    access = Access()
    access.fail = True
    cached = CachedAccess(access)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError):
        cached.adapter("u", "A1")
    access.fail = False
    assert cached.adapter("u", "A1") is not None
    assert len(access.builds) == 2
