"""The local AWS side shared by `make run` and `make demo`: an emulator and the platform applied."""

from __future__ import annotations

import os
from typing import Any

from localdev import emulator, terraform


def emulator_for(port: int) -> tuple[str, bool]:
    """The emulator URL to use and whether we started it (and so must stop it)."""
    configured = os.environ.get("AWS_ENDPOINT_URL")
    local = emulator.endpoint(port)
    if configured and emulator.is_healthy(configured):
        return configured, False
    if emulator.is_healthy(local):  # e.g. `make emulator` or `make run` earlier: use it
        emulator.configure(local)
        print(f"emulator: using the one already running on {local}", flush=True)
        return local, False
    return emulator.start(port), True


def apply_platform(url: str, region: str) -> dict[str, Any]:
    print("infra: applying infra/ to the emulator with Terraform ...", flush=True)
    return terraform.apply("local", url, extra_vars={"region": region}, include_app=False)
