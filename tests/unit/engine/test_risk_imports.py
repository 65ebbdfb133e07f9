"""The risk engine's modules speak to the outside through ports only: none imports an adapter or
PynamoDB (issue #14), so its unit tier runs on in-memory fakes; and each stays under 400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3] / "chalicelib"
RISK = [
    *(ROOT / "services").glob("risk_*.py"),
    ROOT / "services" / "wait_trade.py",
    ROOT / "services" / "underlying_watch.py",
    ROOT / "jobs" / "risk.py",
    ROOT / "ports" / "risk.py",
    ROOT / "domain" / "risk_book.py",
]
FORBIDDEN = ("chalicelib.adapters", "pynamodb")


def imported(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def test_the_risk_modules_are_all_listed() -> None:
    assert len(RISK) >= 15 and all(path.exists() for path in RISK)


@pytest.mark.parametrize("path", RISK, ids=lambda p: p.name)
def test_no_risk_module_imports_an_adapter(path: Path) -> None:
    offending = [
        name for name in imported(path)
        if any(name == f or name.startswith(f"{f}.") for f in FORBIDDEN)
    ]  # fmt: skip
    assert offending == []


@pytest.mark.parametrize("path", RISK, ids=lambda p: p.name)
def test_no_risk_module_is_over_400_lines(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= 400
