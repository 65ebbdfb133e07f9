"""`make run`: the whole platform on one machine.

Starts the embedded AWS emulator (or uses AWS_ENDPOINT_URL), applies infra/ to it with Terraform,
serves the API with `chalice local`, prints where everything is, and stops it all on Ctrl-C.
The clock process and the simulated exchange join here as their issues land.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from localdev import emulator, terraform

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="localdev.run")
    parser.add_argument("--emulator-port", type=int, default=emulator.DEFAULT_PORT)
    parser.add_argument("--api-port", type=int, default=8000)
    parser.add_argument("--region", default="ap-south-1")
    args = parser.parse_args(argv)

    started_here = not (
        os.environ.get("AWS_ENDPOINT_URL") and emulator.is_healthy(os.environ["AWS_ENDPOINT_URL"])
    )
    url = emulator.start(args.emulator_port)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        print("infra: applying infra/ to the emulator with Terraform ...", flush=True)
        outputs = terraform.apply(
            "local", url, extra_vars={"region": args.region}, include_app=False
        )
        env = {**os.environ, **terraform.settings_env(outputs, "local", url, args.region)}
        env["AUTO_CONFIRM_SIGNUP"] = "true"
        api = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "chalice"),
                "local",
                "--host", "127.0.0.1",
                "--port", str(args.api_port),
                "--stage", "local",
                "--no-autoreload",
            ],
            cwd=ROOT,
            env=env,
        )  # fmt: skip
        processes.append(api)
        _banner(url, args.api_port, outputs)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        print("run: a component exited; stopping everything", flush=True)
    except KeyboardInterrupt:
        print("\nrun: stopping ...", flush=True)
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        if started_here:
            emulator.stop(args.emulator_port)


def _banner(url: str, api_port: int, outputs: dict[str, object]) -> None:
    print(
        "\n".join(
            [
                "",
                "optexec is running locally:",
                f"  API              http://127.0.0.1:{api_port}  (GET /health, /openapi.json)",
                f"  AWS emulator     {url}  (DynamoDB, Cognito, KMS, Step Functions, ...)",
                f"  table            {outputs['table_name']}",
                f"  user pool        {outputs['user_pool_id']} (sign-ups are auto-confirmed)",
                f"  tick machine     {outputs['tick_state_machine_arn']}",
                f"  Try: curl -s http://127.0.0.1:{api_port}/health",
                "Ctrl-C stops everything.",
                "",
            ]
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
