"""Runs infra/ with Terraform against AWS, LocalStack or the embedded emulator.

On machines without registry access a filesystem mirror of the AWS provider is used when one is
found (TF_PLUGIN_MIRROR, or the mirror these machines ship); elsewhere Terraform downloads it as usual.
State for emulator stages lives under .run/ (the emulator forgets everything when it stops); AWS
stages keep theirs in S3 (infra/backend.tf, written by `make deploy` after `make bootstrap`:
localdev/remote_state.py) and are refused without it, so `make clean` never orphans real resources.

Usage: `python -m localdev.terraform apply --stage local [--endpoint URL]` (prints outputs as JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from localdev.remote_state import BACKEND_FILE

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
RUN_DIR = ROOT / ".run"
KNOWN_MIRRORS = (
    "/opt/tf-plugins",
    "/usr/share/terraform/plugins",
    "/usr/local/share/terraform/plugins",
)


def find_mirror() -> str | None:
    candidates = [os.environ.get("TF_PLUGIN_MIRROR", ""), *KNOWN_MIRRORS]
    for candidate in candidates:
        if candidate and (Path(candidate) / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
            return candidate
    return None


def terraform_env(data_dir: Path) -> dict[str, str]:
    """Environment for terraform: its own data dir, and the provider mirror when there is one."""
    env = dict(os.environ)
    env["TF_DATA_DIR"] = str(data_dir)
    env["TF_IN_AUTOMATION"] = "1"
    env.setdefault("CHECKPOINT_DISABLE", "1")
    mirror = find_mirror()
    if mirror:
        RUN_DIR.mkdir(exist_ok=True)
        rc = RUN_DIR / "terraformrc"
        rc.write_text(
            "provider_installation {\n"
            f'  filesystem_mirror {{\n    path    = "{mirror}"\n'
            '    include = ["registry.terraform.io/hashicorp/aws"]\n  }\n'
            '  direct {\n    exclude = ["registry.terraform.io/hashicorp/aws"]\n  }\n}\n'
        )
        env["TF_CLI_CONFIG_FILE"] = str(rc)
    return env


def _run(args: list[str], env: dict[str, str], quiet: bool, infra_dir: Path = INFRA) -> str:
    binary = shutil.which("terraform")
    if binary is None:
        raise SystemExit("terraform is not on the PATH; install Terraform >= 1.5")
    result = subprocess.run(
        [binary, f"-chdir={infra_dir}", *args], env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-4000:] + result.stderr[-4000:])
        raise SystemExit(f"terraform {args[0]} failed ({result.returncode})")
    if not quiet:
        sys.stderr.write(result.stdout[-2000:])
    return result.stdout


def apply(
    stage: str,
    endpoint: str | None,
    *,
    name_suffix: str = "",
    work_dir: Path | None = None,
    extra_vars: dict[str, str] | None = None,
    quiet: bool = True,
    infra_dir: Path = INFRA,
    include_app: bool = True,
    refresh: bool = True,
) -> dict[str, Any]:
    """Init and apply infra/ for a stage; returns the outputs as plain values.

    include_app=False applies the platform alone (a copy of infra/ without the packaged Chalice
    module), as `make run` and the tests do: locally the API is `chalice local`.
    refresh=False skips re-reading every resource (a variant applied over a fresh state).
    """
    work = work_dir or (RUN_DIR / f"tf-{stage}{name_suffix}")
    work.mkdir(parents=True, exist_ok=True)
    if not include_app:
        infra_dir = _platform_copy(infra_dir, work / "platform")
    _check_packaged_stage(infra_dir, stage)
    state_args = _state_args(infra_dir, endpoint, work)
    env = terraform_env(work / "data")
    variables = {"stage": stage, "name_suffix": name_suffix, **(extra_vars or {})}
    if endpoint:
        variables["aws_endpoint_url"] = endpoint
        # The emulator's SES takes any sender: e-mail notifications work locally too.
        variables.setdefault("notification_email_sender", EMULATOR_EMAIL_SENDER)
    var_args = [f"-var={k}={v}" for k, v in variables.items()]
    _run(["init", "-input=false", "-no-color", "-reconfigure"], env, quiet, infra_dir)
    refreshing = [] if refresh else ["-refresh=false"]
    _run(
        [
            "apply",
            "-input=false",
            "-auto-approve",
            "-no-color",
            *state_args,
            *refreshing,
            *var_args,
        ],
        env,
        quiet,
        infra_dir,
    )
    raw = _run(["output", "-json", "-no-color", *state_args], env, True, infra_dir)
    outputs = {name: value["value"] for name, value in json.loads(raw).items()}
    (work / "outputs.json").write_text(json.dumps(outputs, indent=2))
    return outputs


#: The from address of e-mail notifications on the emulator (its SES verifies it at once).
EMULATOR_EMAIL_SENDER = "alerts@optexec.local"


def _state_args(infra_dir: Path, endpoint: str | None, work: Path) -> list[str]:
    """Local state (under ``work``) for the emulator; the S3 backend, and only it, for AWS."""
    remote = (infra_dir / BACKEND_FILE).exists()
    if endpoint and remote:
        raise SystemExit(
            f"{infra_dir / BACKEND_FILE} points at S3 state: an emulator stage keeps local state "
            "(run `make package STAGE=local`, or remove the file)"
        )
    if not endpoint and not remote:
        raise SystemExit(
            "an AWS stage keeps its Terraform state in S3, never under .run/: run "
            "`make bootstrap` once, then `make deploy STAGE=...` (it writes infra/backend.tf)"
        )
    return [] if remote else [f"-state={work / 'terraform.tfstate'}"]


def _platform_copy(source: Path, target: Path) -> Path:
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for path in source.iterdir():
        if (
            path.is_file()
            and path.name not in ("app.tf", BACKEND_FILE)
            and not path.name.startswith("terraform.tfstate")
        ):
            shutil.copy2(path, target / path.name)
    return target


def _check_packaged_stage(infra_dir: Path, stage: str) -> None:
    """Refuse to apply a package built for AWS to the emulator (or the other way round)."""
    app_tf = infra_dir / "app.tf"
    if not app_tf.exists():
        return
    packaged = app_tf.read_text().split("(stage ", 1)[-1].split(")", 1)[0]
    if packaged != stage:
        raise SystemExit(
            f"infra/app.tf was packaged for stage {packaged!r}, not {stage!r}: "
            f"run `make package STAGE={stage}` (or `make clean`)"
        )


def destroy(
    stage: str, endpoint: str | None, *, name_suffix: str = "", work_dir: Path | None = None
) -> None:
    work = work_dir or (RUN_DIR / f"tf-{stage}{name_suffix}")
    env = terraform_env(work / "data")
    variables = {"stage": stage, "name_suffix": name_suffix}
    if endpoint:
        variables["aws_endpoint_url"] = endpoint
    var_args = [f"-var={k}={v}" for k, v in variables.items()]
    state_args = _state_args(INFRA, endpoint, work)
    _run(
        ["destroy", "-input=false", "-auto-approve", "-no-color", *state_args, *var_args],
        env,
        True,
    )


def settings_env(
    outputs: dict[str, Any], stage: str, endpoint: str | None, region: str
) -> dict[str, str]:
    """The environment variables chalicelib.settings reads, from Terraform outputs."""
    env = {
        "STAGE": stage,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "TABLE_NAME": outputs["table_name"],
        "USER_POOL_ID": outputs["user_pool_id"],
        "USER_POOL_CLIENT_ID": outputs["user_pool_client_id"],
        "SECRETS_KMS_KEY_ID": outputs["secrets_kms_key_id"],
        "ALARM_TOPIC_ARN": outputs["alarm_topic_arn"],
        "NOTIFICATION_EMAIL_SENDER": str(outputs.get("notification_email_sender") or ""),
    }
    if endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
        env.setdefault("AWS_ACCESS_KEY_ID", "test")
        env.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    return env


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="localdev.terraform")
    parser.add_argument("command", choices=["apply", "destroy"])
    parser.add_argument("--stage", default="local")
    parser.add_argument("--endpoint", default=None)
    parser.add_argument("--region", default="ap-south-1")
    args = parser.parse_args(argv)
    if args.command == "apply":
        outputs = apply(args.stage, args.endpoint, extra_vars={"region": args.region}, quiet=False)
        print(json.dumps(outputs, indent=2))
    else:
        destroy(args.stage, args.endpoint)


if __name__ == "__main__":
    main()
