"""One broker catalogue (chalicelib/domain/brokers.py): every list of brokers is derived from it,
and no other module of chalicelib/ spells a broker's name."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from chalicelib.adapters.brokers.registry import ADAPTERS, adapter_class
from chalicelib.adapters.brokers.session_expiry import default_rules
from chalicelib.api.schemas import BROKERS
from chalicelib.domain.brokers import (
    BROKER_NAMES,
    CATALOGUE,
    INDEX_QUOTE_BROKERS,
    TOKEN_MASTERS,
    UnknownBroker,
    broker_entry,
)
from chalicelib.services.broker_sessions import CODE_PARAM
from chalicelib.services.preview import DIALECT
from chalicelib.settings import Settings
from localdev.run import FAKE_OF

ROOT = Path(__file__).resolve().parents[2]
# The same words used for something other than an account's broker: symbol dialects and their
# master parsers (Upstox, Fyers and Dhan are also dialect names), and the paper dialect's wire key.
NOT_BROKER_NAMES = {
    ("chalicelib/domain/instrument.py", "upstox"), ("chalicelib/domain/instrument.py", "fyers"),
    ("chalicelib/domain/instrument.py", "dhan"), ("chalicelib/domain/masters/fyers.py", "fyers"),
    ("chalicelib/domain/masters/dhan.py", "dhan"), ("chalicelib/domain/masters/upstox.py", "upstox"),
    ("chalicelib/adapters/brokers/paper.py", "paper"),
}  # fmt: skip


@pytest.mark.parametrize("entry", CATALOGUE, ids=lambda e: e.name)
def test_each_entry_has_its_adapter_its_fake_and_its_session_rules(entry):
    cls = adapter_class(entry.name)
    assert cls.name == entry.name
    assert (ROOT / "sim" / "brokers" / f"{entry.dialect}.py").is_file()
    assert entry.code_param and CODE_PARAM[entry.name] == entry.code_param
    assert DIALECT[entry.name] is entry.symbols
    assert entry.name in {rule.broker for rule in default_rules()}


def test_every_list_of_brokers_is_the_catalogue():
    assert BROKERS == BROKER_NAMES == tuple(ADAPTERS) == tuple(FAKE_OF)
    assert Settings.instrument_brokers == TOKEN_MASTERS
    assert {"zerodha", "paper"} == INDEX_QUOTE_BROKERS
    with pytest.raises(UnknownBroker):
        broker_entry("nobroker")


def test_no_other_module_of_chalicelib_spells_a_broker_name():
    names = set(BROKER_NAMES)
    found = []
    for path in sorted((ROOT / "chalicelib").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel == "chalicelib/domain/brokers.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            named = isinstance(node, ast.Constant) and node.value in names
            if named and (rel, node.value) not in NOT_BROKER_NAMES:
                found.append(f"{rel}:{node.lineno} {node.value!r}")
    assert found == []
