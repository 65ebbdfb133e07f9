"""Shared fixtures. Integration fixtures start the embedded AWS emulator on a free loopback port
(or use AWS_ENDPOINT_URL when it already serves an emulator or LocalStack) and apply infra/ to it
with Terraform once per session, so every integration test runs against what `make deploy` builds."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from localdev import emulator as emulator_launcher
from localdev import terraform

REGION = "ap-south-1"


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
def infra(emulator_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """infra/ applied to the emulator; returns the Terraform outputs."""
    suffix = "-t" + uuid.uuid4().hex[:6]
    work = tmp_path_factory.mktemp("terraform")
    return terraform.apply(
        "test",
        emulator_url,
        name_suffix=suffix,
        work_dir=work,
        extra_vars={"region": REGION, "tick_schedule_enabled": "false", "static_egress_ip": "true"},
        include_app=False,
    )
