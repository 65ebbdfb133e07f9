"""Shared fixtures. Integration fixtures start the embedded AWS emulator on a free loopback port
(or use AWS_ENDPOINT_URL when it already serves an emulator or LocalStack) and apply infra/ to it
with Terraform once per session, so every integration test runs against what `make deploy` builds.

Time: the platform under test never reads the wall clock. Every container built by the fixtures
runs on `platform_clock`, which starts each test at the *ambient instant*: a fixed trading morning
by default, or `OPTEXEC_TEST_AT` (an ISO instant) when set. Every `ambient_time` test also runs at
02:00 IST on a trading day, a Sunday noon and an exchange holiday (`PINNED_INSTANTS`, parameters of
the same session) to prove none of them depends on when the suite happens to run; a test that needs
a particular moment sets the clock itself."""

from __future__ import annotations

import logging
import os
import socket
import types
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from chalicelib.services.clock import ShiftedClock
from localdev import emulator as emulator_launcher
from localdev import terraform

REGION = "ap-south-1"
# Records from background threads between tests (a notification worker of a container whose
# emulator or stalled socket a finished test already closed) would otherwise reach Python's
# last-resort handler and flood the CI log; pytest still captures every record made during a test.
logging.getLogger().addHandler(logging.NullHandler())


class ModulePatchRefused(pytest.MonkeyPatch):
    """``monkeypatch`` for this suite: patching an attribute of a ``chalicelib`` module (a
    function the code imported, a module constant) is refused. It couples a test to where a name
    is looked up and leaks into other tests' threads; inject the dependency instead (a dataclass
    field, a parameter, an in-memory fake of the port)."""

    def setattr(self, target: Any, *args: Any, **kw: Any) -> None:  # type: ignore[override]
        _refuse_module(target, args[0] if args else kw.get("name", ""))
        super().setattr(target, *args, **kw)

    def delattr(self, target: Any, *args: Any, **kw: Any) -> None:  # type: ignore[override]
        _refuse_module(target, args[0] if args else kw.get("name", ""))
        super().delattr(target, *args, **kw)


def _refuse_module(target: Any, name: Any) -> None:
    """A dotted string names a module attribute; so does a module object as the target."""
    if isinstance(target, str):
        dotted = target.rsplit(".", 1)[0]
    elif isinstance(target, types.ModuleType):
        dotted = target.__name__
    else:
        return  # an object or a class instance a test owns: fine
    if dotted in ("chalicelib", "app") or dotted.startswith("chalicelib."):
        pytest.fail(
            f"monkeypatching {dotted}.{name if not isinstance(target, str) else target.rsplit('.', 1)[1]} "
            "is refused: inject the dependency instead"
        )


@pytest.fixture
def monkeypatch() -> Iterator[pytest.MonkeyPatch]:
    patcher = ModulePatchRefused()
    yield patcher
    patcher.undo()


# A Wednesday mid-morning, inside the F&O session: what "now" is unless a test or CI says otherwise.
DEFAULT_AMBIENT = "2026-11-25T10:00:00+05:30"


# The instants every `ambient_time` test runs at besides the ambient one: 02:00 IST on a trading
# Monday, a Sunday noon and an exchange holiday (Christmas 2026). Parameters, not separate sessions:
# three more sessions each started an emulator and applied infra/ for two dozen tests.
PINNED_INSTANTS = {
    "at-0200-trading-monday": "2026-11-30T02:00:00+05:30",
    "at-sunday-noon": "2026-11-29T12:00:00+05:30",
    "at-christmas": "2026-12-25T11:00:00+05:30",
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """An `ambient_time` test runs at the ambient instant and at each of `PINNED_INSTANTS`."""
    if metafunc.definition.get_closest_marker("ambient_time") is None:
        return
    if "ambient_at" not in metafunc.fixturenames:
        metafunc.fixturenames.append("ambient_at")
    metafunc.parametrize(
        "ambient_at", [None, *PINNED_INSTANTS.values()], ids=["at-ambient", *PINNED_INSTANTS]
    )


def ambient_instant() -> datetime:
    """The instant every test starts at (``OPTEXEC_TEST_AT`` or the default trading morning)."""
    moment = datetime.fromisoformat(os.environ.get("OPTEXEC_TEST_AT") or DEFAULT_AMBIENT)
    if moment.tzinfo is None:
        raise ValueError("OPTEXEC_TEST_AT needs an offset, e.g. 2026-11-30T02:00:00+05:30")
    return moment


@pytest.fixture(scope="session")
def platform_clock() -> ShiftedClock:
    """The one clock of every container the fixtures build; reset to the ambient instant per test."""
    return ShiftedClock(ambient_instant())


@pytest.fixture(autouse=True)
def _ambient_time(platform_clock: ShiftedClock, request: pytest.FixtureRequest) -> None:
    callspec = getattr(request.node, "callspec", None)
    pinned = callspec.params.get("ambient_at") if callspec is not None else None
    platform_clock.set(datetime.fromisoformat(pinned) if pinned else ambient_instant())


_BINDING = (
    "table_name", "region", "host", "connect_timeout_seconds", "read_timeout_seconds",
    "max_retry_attempts",
)  # fmt: skip


@pytest.fixture(autouse=True)
def _platform_globals() -> Iterator[None]:
    """Put back what a test changed of the process-wide platform state: the installed container,
    the models' table binding (endpoint and timeouts) and the record-stamp clock.

    A Container binds them when built, and some tests build one against another endpoint (a stalled
    socket, a fake AWS, unit-test settings). Run alone or in file order that never mattered, but
    test workers interleave files: an integration test after such a test met a dead endpoint or
    production's 1.5 s timeouts on a busy emulator."""
    from chalicelib import container as composition
    from chalicelib.adapters.dynamo import models, repository

    meta = models.BaseItem.Meta
    installed = composition._container
    binding = {name: getattr(meta, name, None) for name in _BINDING}
    stamp = repository._stamp_clock[0]
    yield
    composition.use_container(installed)
    repository._stamp_clock[0] = stamp
    if any(getattr(meta, name, None) != value for name, value in binding.items()):
        for name, value in binding.items():
            setattr(meta, name, value)
        for model in models.all_models():
            model._connection = None
        models._transactions.clear()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def emulator_url() -> Iterator[str]:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    os.environ["AWS_DEFAULT_REGION"] = REGION
    configured = os.environ.get("AWS_ENDPOINT_URL")
    if configured and emulator_launcher.is_healthy(configured):
        yield configured
        return
    port = _free_port()
    url = emulator_launcher.start(port)
    try:
        yield url
    finally:
        emulator_launcher.stop(port)


@pytest.fixture(scope="session")
def infra_run(emulator_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """How the session applies infra/ (state, suffix, variables): a test may apply a variant
    over the same state (engine mode, test_infra_apply.py)."""
    return {
        "endpoint": emulator_url,
        "name_suffix": "-t" + uuid.uuid4().hex[:6],
        "work_dir": tmp_path_factory.mktemp("terraform"),
        "extra_vars": {
            "region": REGION,
            "tick_schedule_enabled": "false",
            "static_egress_ip": "true",
        },
    }


@pytest.fixture(scope="session")
def infra(infra_run: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """infra/ applied to the emulator; returns the Terraform outputs.

    One more apply, under a fresh suffix and state, when the first fails: a loaded emulator can
    answer a create so late that the provider sends it again and is told the resource exists
    (seen once: a KMS alias), which would otherwise fail every test of the worker. A real fault
    in infra/ fails both applies."""

    def apply() -> dict[str, Any]:
        return terraform.apply(
            "test",
            infra_run["endpoint"],
            name_suffix=infra_run["name_suffix"],
            work_dir=infra_run["work_dir"],
            extra_vars=infra_run["extra_vars"],
            include_app=False,
        )

    try:
        return apply()
    except SystemExit as first:
        logging.getLogger(__name__).warning("infra apply failed (%s); applying afresh once", first)
        infra_run["name_suffix"] = "-t" + uuid.uuid4().hex[:6]
        infra_run["work_dir"] = tmp_path_factory.mktemp("terraform")
        return apply()
