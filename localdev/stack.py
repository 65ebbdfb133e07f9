"""The local AWS side shared by `make run` and `make demo`: an emulator and the platform applied.

Everything a local stack keeps lives under one directory per emulator port, `.run/local-<PORT>/`:
`emulator/` (moto's state), `sim/` (the simulated exchange and fake brokers), `terraform/` (state,
outputs and the fingerprint of the last apply). `make reset` removes that directory: platform and
exchange state go together.

A start with unchanged `infra/` and variables, whose resources the emulator still holds, skips
Terraform (a restart then takes seconds, not the ~60-100 s of an apply).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from localdev import emulator, terraform

ROOT = Path(__file__).resolve().parent.parent
RUN_DIR = ROOT / ".run"
INFRA = ROOT / "infra"
FINGERPRINT = "applied.json"


def state_root(port: int) -> Path:
    """Where a local stack on emulator port ``port`` keeps everything."""
    return RUN_DIR / f"local-{port}"


def emulator_for(
    port: int, state_dir: Path | None = None, preexec: Callable[[], None] | None = None
) -> tuple[str, bool]:
    """The emulator URL to use and whether we started it (and so must stop it)."""
    configured = os.environ.get("AWS_ENDPOINT_URL")
    local = emulator.endpoint(port)
    if configured and emulator.is_healthy(configured):
        return configured, False
    if emulator.is_healthy(local):  # e.g. `make emulator` or `make run` earlier: use it
        emulator.configure(local)
        print(f"emulator: using the one already running on {local}", flush=True)
        return local, False
    return emulator.start(port, state_dir=state_dir, preexec=preexec), True


def fingerprint(url: str, region: str, infra_dir: Path = INFRA) -> str:
    """What an apply depends on: every file of infra/ the platform copy takes (the packaged
    Chalice module and state files excepted, as in terraform._platform_copy) and the variables."""
    digest = hashlib.sha256(json.dumps({"endpoint": url, "region": region}).encode())
    for path in sorted(infra_dir.iterdir()):
        if (
            path.is_file()
            and path.name != "app.tf"
            and not path.name.startswith("terraform.tfstate")
        ):
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def apply_platform(url: str, region: str, work_dir: Path | None = None) -> dict[str, Any]:
    """infra/ applied to the emulator, or the last apply's outputs when nothing changed."""
    work = work_dir or RUN_DIR / "tf-local"
    marker = work / FINGERPRINT
    expected = fingerprint(url, region)
    previous = _read(marker)
    if previous and previous.get("fingerprint") == expected:
        outputs = previous["outputs"]
        if platform_present(url, region, outputs):
            print(
                "infra: unchanged since the last apply and present: Terraform skipped", flush=True
            )
            return outputs
    print("infra: applying infra/ to the emulator with Terraform ...", flush=True)
    # Locally the clock process sends from this machine's own address: no egress VPC.
    local_vars = {"region": region, "static_egress_ip": "false"}
    outputs = terraform.apply("local", url, extra_vars=local_vars, include_app=False, work_dir=work)
    marker.write_text(json.dumps({"fingerprint": expected, "outputs": outputs}, indent=1))
    return outputs


def platform_present(url: str, region: str, outputs: dict[str, Any]) -> bool:
    """The emulator still holds the table, the user pool and the secrets key."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    config = Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=5)
    session = boto3.session.Session(
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
        region_name=region,
    )
    try:
        client = session.client  # one endpoint for every service
        client("dynamodb", endpoint_url=url, config=config).describe_table(
            TableName=outputs["table_name"]
        )
        client("cognito-idp", endpoint_url=url, config=config).describe_user_pool(
            UserPoolId=outputs["user_pool_id"]
        )
        client("kms", endpoint_url=url, config=config).describe_key(
            KeyId=outputs["secrets_kms_key_id"]
        )
        client("stepfunctions", endpoint_url=url, config=config).describe_state_machine(
            stateMachineArn=outputs["tick_state_machine_arn"]
        )
    except (BotoCoreError, ClientError, KeyError):
        return False
    return True


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
