"""`make deploy STAGE=...`: apply infra/ (with the packaged Chalice module) to AWS or the emulator.

STAGE=local targets the embedded emulator (started if needed, or AWS_ENDPOINT_URL); any other stage
targets the AWS account of the current credentials. Run `make package STAGE=...` first (the Makefile
does). An AWS stage's state lives in the S3 bucket `make bootstrap` created (localdev/remote_state.py):
this writes infra/backend.tf for it; an emulator stage keeps local state and never gets that file.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

import boto3

from localdev import emulator, remote_state, stack, terraform, webapp
from localdev.package import EMULATED_STAGES


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="localdev.deploy")
    parser.add_argument("--stage", default="local")
    parser.add_argument("--region", default="ap-south-1")
    parser.add_argument("--app", default="optexec")
    parser.add_argument("--emulator-port", type=int, default=emulator.DEFAULT_PORT)
    args = parser.parse_args(argv)
    endpoint = None
    work_dir = None
    if args.stage == "local":  # the same emulator state and Terraform state `make run` keeps
        work_dir = stack.state_root(args.emulator_port) / "terraform"
    if args.stage not in EMULATED_STAGES:
        s3, bucket = remote_state.session_bucket(args.region, args.app)
        try:
            s3.head_bucket(Bucket=bucket)
        except s3.exceptions.ClientError as error:
            raise SystemExit(
                f"no state bucket {bucket}: run `make bootstrap REGION={args.region}` once"
            ) from error
        remote_state.write_backend(terraform.INFRA, bucket, args.app, args.stage, args.region)
    else:
        remote_state.remove_backend(terraform.INFRA)
    if args.stage in EMULATED_STAGES:
        configured = os.environ.get("AWS_ENDPOINT_URL")
        if configured and emulator.is_healthy(configured):
            endpoint = configured
        elif emulator.is_healthy(emulator.endpoint(args.emulator_port)):
            endpoint = emulator.endpoint(args.emulator_port)
        else:
            state = stack.state_root(args.emulator_port) / "emulator" if work_dir else None
            endpoint = emulator.start(args.emulator_port, state_dir=state)
    extra_vars = {"region": args.region}
    # The web app's bundle goes to its bucket (infra/web.tf) when it builds; config.json always.
    if webapp.ensure_built(print):
        extra_vars["web_dist_dir"] = str(webapp.DIST)
    outputs = terraform.apply(
        args.stage, endpoint, extra_vars=extra_vars, quiet=False, work_dir=work_dir
    )
    print(json.dumps(outputs, indent=2))
    if args.stage not in EMULATED_STAGES:
        register_telegram_webhook(outputs, args.region)


def register_telegram_webhook(outputs: dict[str, Any], region: str) -> None:
    """Invoke set_telegram_webhook once after the apply (Telegram on): the function reads the
    bot token and the webhook secret from SSM and calls setWebhook; the secret never passes
    through this machine."""
    if not outputs.get("telegram_webhook_secret_parameter"):
        return
    function = outputs.get("function_arns", {}).get("set_telegram_webhook")
    if not function:
        return
    answer = boto3.client("lambda", region_name=region).invoke(FunctionName=function)
    print("telegram webhook:", answer["Payload"].read().decode())


if __name__ == "__main__":
    main()
