"""The execution store's ports are met by both stores, parameter for parameter: the DynamoDB
adapters the container wires and the in-memory fake the engine's unit tests use."""

from __future__ import annotations

import inspect

import pytest

from chalicelib.adapters.dynamo.execution_repository import ExecutionRepository
from chalicelib.adapters.dynamo.repository import Repository
from chalicelib.ports.closing import ClosingStore, ExitGuardStore
from chalicelib.ports.recovery import AccountDirectory, RecoveryStore
from chalicelib.ports.settlement import SettlementStore, StrategySpecs
from tests.fakes.executions import InMemoryExecutions

PORTS = {
    SettlementStore: ExecutionRepository, ClosingStore: ExecutionRepository,
    ExitGuardStore: ExecutionRepository, RecoveryStore: ExecutionRepository,
    StrategySpecs: Repository, AccountDirectory: Repository,
}  # fmt: skip


def _methods(port: type) -> list[str]:
    return sorted(
        name for name, member in inspect.getmembers(port, inspect.isfunction)
        if not name.startswith("_")
    )  # fmt: skip


def _parameters(function: object) -> list[tuple[str, object]]:
    return [(p.name, p.kind) for p in inspect.signature(function).parameters.values()]  # type: ignore[arg-type]


@pytest.mark.parametrize("port", list(PORTS), ids=lambda p: p.__name__)
def test_both_stores_meet_the_port_parameter_for_parameter(port):
    assert _methods(port), "a port without methods checks nothing"
    for name in _methods(port):
        wanted = _parameters(getattr(port, name))
        for store in (PORTS[port], InMemoryExecutions):
            assert _parameters(getattr(store, name)) == wanted, f"{store.__name__}.{name}"
