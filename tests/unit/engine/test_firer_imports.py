"""The firing path's services speak to the outside through ports only: none of them imports an
adapter or PynamoDB (issue #14), so its unit tier runs on in-memory fakes."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parents[3] / "chalicelib" / "services"
FIRING = (
    "firer.py", "fire_outcome.py", "fire_wire.py", "order_sender.py", "leases.py", "races.py",
    "re_execute.py", "stamping_limiter.py",
)  # fmt: skip
FORBIDDEN = ("chalicelib.adapters", "pynamodb")


def imported(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("module", FIRING)
def test_no_firing_service_imports_an_adapter(module: str):
    offending = [
        name for name in imported(SERVICES / module)
        if any(name == f or name.startswith(f"{f}.") for f in FORBIDDEN)
    ]  # fmt: skip
    assert offending == []
