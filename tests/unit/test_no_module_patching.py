"""The suite refuses monkeypatching a chalicelib module's attributes (issue #14): tests inject."""

from __future__ import annotations

import pytest

from chalicelib.domain import broker_support
from tests.conftest import ModulePatchRefused


def test_patching_a_chalicelib_module_fails_the_test_and_changes_nothing():
    original = broker_support.broker_capabilities
    patcher = ModulePatchRefused()
    try:
        with pytest.raises(pytest.fail.Exception, match=r"broker_support\.broker_capabilities"):
            patcher.setattr(broker_support, "broker_capabilities", lambda broker: None)
        with pytest.raises(pytest.fail.Exception, match="refused"):
            patcher.setattr("chalicelib.domain.broker_support.broker_capabilities", None)
        with pytest.raises(pytest.fail.Exception):
            patcher.delattr(broker_support, "NOTHING")
    finally:
        patcher.undo()
    assert broker_support.broker_capabilities is original


def test_objects_a_test_owns_and_other_modules_may_be_patched(monkeypatch):
    class Engine:
        retries = 1

    engine = Engine()
    monkeypatch.setattr(engine, "retries", 3)
    monkeypatch.setattr("os.sep", "/")
    assert engine.retries == 3 and isinstance(monkeypatch, ModulePatchRefused)
