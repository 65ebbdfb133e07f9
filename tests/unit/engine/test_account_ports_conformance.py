"""The DynamoDB repository and the in-memory fake both implement every store of
``chalicelib/ports/accounts.py`` with the same parameters, so the unit tier tests the contract the
services run on in production (a renamed or re-shaped repository method fails here)."""

from __future__ import annotations

import inspect

import pytest

from chalicelib.adapters.dynamo.repository import Repository
from chalicelib.ports import accounts as ports
from tests.fakes.accounts import MemoryAccounts

PROTOCOLS = [
    ports.ProfileStore,
    ports.AccountReader,
    ports.AccountStore,
    ports.SessionStore,
    ports.StrategyStore,
    ports.BasketStore,
    ports.ScheduleReader,
    ports.StrategyReader,
]


def methods(protocol: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in vars(protocol).items()
        if callable(member) and not name.startswith("_")
    }


def shape(signature: inspect.Signature) -> list[tuple[str, object]]:
    return [(p.name, p.kind) for p in signature.parameters.values()]


@pytest.mark.parametrize("implementation", [Repository, MemoryAccounts])
@pytest.mark.parametrize("protocol", PROTOCOLS, ids=lambda p: p.__name__)
def test_the_store_implements_the_port(protocol, implementation):
    wanted = methods(protocol)
    assert wanted, protocol
    for name, signature in wanted.items():
        found = getattr(implementation, name, None)
        assert found is not None, f"{implementation.__name__} lacks {protocol.__name__}.{name}"
        assert shape(inspect.signature(found)) == shape(signature), (
            f"{implementation.__name__}.{name} differs from {protocol.__name__}.{name}"
        )
