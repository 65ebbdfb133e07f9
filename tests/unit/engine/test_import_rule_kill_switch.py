"""The persistence-ports rule for the kill switch, the day limits, the reports and the daily jobs:
they import ports, domain and services only, never an adapter or PynamoDB (issue #14); jobs get
what they need from the container."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
JOBS = ("kill_switch", "reconcile", "readiness", "paper", "alerts", "recovery", "instruments",
        "notify", "telegram")  # fmt: skip
MODULES = [
    "chalicelib/services/kill_switch.py",
    "chalicelib/services/kill_switch_pass.py",
    "chalicelib/services/day_limits.py",
    "chalicelib/services/reports.py",
    "chalicelib/domain/kill_switch.py",
    "chalicelib/ports/kill_switch.py",
    "chalicelib/ports/day_limits.py",
    "chalicelib/ports/reports.py",
    "chalicelib/api/executions.py",
    "chalicelib/api/views.py",
    *(f"chalicelib/jobs/{name}.py" for name in JOBS),
]
FORBIDDEN = ("chalicelib.adapters", "pynamodb")


def imported(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("module", MODULES)
def test_the_module_imports_no_adapter(module):
    bad = [n for n in imported(ROOT / module) if n.startswith(FORBIDDEN)]
    assert bad == [], f"{module} imports {bad}"


@pytest.mark.parametrize("module", MODULES)
def test_the_module_stays_small(module):
    assert len((ROOT / module).read_text().splitlines()) <= 400
