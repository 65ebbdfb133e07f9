"""Settlement, recovery, exits and the exit guard depend on ports and domain records only: none of
their modules imports an adapter or PynamoDB (the check reads the modules' own import lines)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parents[3] / "chalicelib" / "services"
MODULES = ["settlement", "settlement_rules", "recovery", "recovery_rules", "exits", "exit_guard",
           "guards", "closing"]  # fmt: skip
PORTS = Path(__file__).resolve().parents[3] / "chalicelib" / "ports"


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize(
    "path", [SERVICES / f"{m}.py" for m in MODULES]
    + [PORTS / f"{m}.py" for m in ("settlement", "closing", "recovery")],
    ids=lambda p: f"{p.parent.name}.{p.stem}",
)  # fmt: skip
def test_no_adapter_or_pynamodb_import(path: Path):
    offending = {n for n in _imported(path)
                 if n.startswith(("chalicelib.adapters", "pynamodb"))}  # fmt: skip
    assert offending == set()
