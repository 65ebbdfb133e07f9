"""The persistence-ports rule for the account and strategy use cases: they import ports, domain
and services only, never an adapter, PynamoDB or an HTTP client (issue #14). Other service
modules join this list as their share of the refactor lands."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
MODULES = [
    "chalicelib/services/accounts.py",
    "chalicelib/services/baskets.py",
    "chalicelib/services/strategies.py",
    "chalicelib/services/identity.py",
    "chalicelib/services/broker_sessions.py",
    "chalicelib/services/broker_access.py",
    "chalicelib/services/broker_quotes.py",
    "chalicelib/services/quote_choice.py",
    "chalicelib/services/schedule_view.py",
    "chalicelib/services/preview.py",
    "chalicelib/services/margin_check.py",
    "chalicelib/services/quotes.py",
    "chalicelib/services/index_quotes.py",
    *sorted(
        str(p.relative_to(ROOT)) for p in (ROOT / "chalicelib/services/notifications").glob("*.py")
    ),
    *sorted(
        str(p.relative_to(ROOT))
        for p in (ROOT / "chalicelib/api").glob("*.py")
        if p.name not in ("executions.py", "views.py")  # another share of the refactor
    ),
]
FORBIDDEN = ("chalicelib.adapters", "pynamodb", "httpx", "boto3", "botocore")


def imported(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("module", MODULES)
def test_the_use_case_imports_no_adapter(module):
    bad = [n for n in imported(ROOT / module) if n.split(".")[0] in FORBIDDEN
           or n.startswith(FORBIDDEN)]  # fmt: skip
    assert bad == [], f"{module} imports {bad}: depend on a port in chalicelib/ports/ instead"
