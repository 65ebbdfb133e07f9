"""The import rule of docs/architecture.md, checked on the source (issue #14): use cases, routes,
jobs, the domain and the ports never import an adapter, PynamoDB, boto3 or httpx, so the engine's
unit tier runs on in-memory fakes of the ports and storage details stay in `chalicelib/adapters/`.
The domain and the ports also never import the services that use them. And one idea per file:
no module of `chalicelib/` or `sim/` is over 400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "chalicelib"
SIM = ROOT.parent / "sim"
MAX_LINES = 400
OUTSIDE = ("chalicelib.adapters", "pynamodb", "boto3", "botocore", "httpx")
LAYERS = {
    "services": OUTSIDE,
    "api": OUTSIDE,
    "jobs": OUTSIDE,
    "domain": (*OUTSIDE, "chalicelib.services", "chalicelib.api", "chalicelib.jobs"),
    "ports": (*OUTSIDE, "chalicelib.services", "chalicelib.api", "chalicelib.jobs"),
}


def imported(path: Path) -> list[tuple[int, str]]:
    """Every module ``path`` imports, at any depth (a function-level import counts too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def modules(layer: str) -> list[Path]:
    return sorted((ROOT / layer).rglob("*.py"))


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_a_layer_imports_no_adapter_and_nothing_above_it(layer: str):
    assert modules(layer), f"no modules under chalicelib/{layer}"
    forbidden = LAYERS[layer]
    offending = [
        f"{path.relative_to(ROOT.parent)}:{line} imports {name}"
        for path in modules(layer)
        for line, name in imported(path)
        if any(name == f or name.startswith(f"{f}.") for f in forbidden)
    ]
    assert offending == []


def test_the_rule_sees_a_function_level_import(tmp_path: Path):
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text("def f():\n    from chalicelib.adapters.dynamo import models\n")
    assert imported(sneaky) == [(2, "chalicelib.adapters.dynamo")]


def test_no_module_of_chalicelib_or_sim_is_over_400_lines():
    long = {
        str(path.relative_to(ROOT.parent)): lines
        for tree in (ROOT, SIM)
        for path in sorted(tree.rglob("*.py"))
        if (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


@pytest.mark.parametrize("layer", ["api", "jobs"])
def test_routes_and_jobs_reach_use_cases_not_the_repository(layer: str):
    """The container also holds the repository (the adapter the stores are wired from); a route
    or a job that read it would be a use case written outside `services/`."""
    offending = [
        f"{path.relative_to(ROOT.parent)}:{node.lineno}"
        for path in modules(layer)
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute) and node.attr == "repo"
    ]
    assert offending == []
