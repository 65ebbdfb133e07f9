"""`make run`: the whole platform on one machine.

Starts the embedded AWS emulator (or uses AWS_ENDPOINT_URL), applies infra/ to it with Terraform,
starts the simulated exchange with a fake server per broker dialect, serves the API with
`chalice local` with every broker pointed at its fake (a local run never reaches a real broker),
runs the clock process (plans each minute ahead, fires on the second), prints where everything
is, and stops it all on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from chalicelib.domain.calendar import IST, default_calendar
from chalicelib.services.clock import ClockShift
from localdev import emulator, stack, terraform

ROOT = Path(__file__).resolve().parent.parent
SIM_DIR = ROOT / ".run" / "sim"
# Which fake serves each broker name locally (paper trades through the Kite-dialect fake).
FAKE_OF = {
    "zerodha": "kite",
    "paper": "kite",
    "angelone": "angel",
    "upstox": "upstox",
    "fyers": "fyers",
    "dhan": "dhan",
    "shoonya": "noren",
    "zebu": "noren",
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="localdev.run")
    parser.add_argument("--emulator-port", type=int, default=emulator.DEFAULT_PORT)
    parser.add_argument("--api-port", type=int, default=8000)
    parser.add_argument("--region", default="ap-south-1")
    parser.add_argument(
        "--at",
        type=parse_at,
        default=None,
        help="run the platform from this IST instant at real speed (e.g. 2026-12-01T09:19:30+05:30)",
    )
    args = parser.parse_args(argv)

    url, started_here = stack.emulator_for(args.emulator_port)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        outputs = stack.apply_platform(url, args.region)
        env = {**os.environ, **terraform.settings_env(outputs, "local", url, args.region)}
        env["AUTO_CONFIRM_SIGNUP"] = "true"
        env["PUBLIC_API_URL"] = f"http://127.0.0.1:{args.api_port}"
        shifted = ClockShift(args.at, datetime.now(IST)) if args.at else None
        if shifted is not None:  # the shifted clock starts now that the AWS side is ready
            env["PLATFORM_CLOCK"] = shifted.spec()
        fakes, hosts = _start_fakes(shifted.spec() if shifted else "")
        processes.append(fakes)
        env["BROKER_HOSTS"] = json.dumps({b: hosts[d] for b, d in FAKE_OF.items() if d in hosts})
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
        clock = subprocess.Popen([sys.executable, "-m", "localdev.clock"], cwd=ROOT, env=env)
        processes.append(clock)
        _banner(url, args.api_port, outputs, hosts, shifted)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started in background
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


def parse_at(text: str) -> datetime:
    """An instant for the shifted clock; without an offset it is read as IST."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"AT must be an ISO instant such as 2026-12-01T09:19:30+05:30, not {text!r}"
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=IST)).astimezone(IST)


def describe_day(moment: datetime) -> str:
    """What the market does on ``moment``'s day, for the banner."""
    calendar = default_calendar()
    day = moment.date()
    if not calendar.covers(day):
        return "outside the trading calendar's years"
    if not calendar.is_trading_day(day):
        return f"not a trading day ({calendar.holiday_reason(day)})"
    opens, closes = calendar.fo_session_bounds(day)
    return f"a trading day, F&O session {opens:%H:%M}-{closes:%H:%M} IST"


def _start_fakes(clock_spec: str) -> tuple[subprocess.Popen[bytes], dict[str, dict[str, str]]]:
    """The simulated exchange and the six dialect fakes, state kept under .run/sim."""
    hosts_file = SIM_DIR / "hosts.json"
    hosts_file.unlink(missing_ok=True)
    clock_args = ["--clock", clock_spec] if clock_spec else []
    process = subprocess.Popen(
        [sys.executable, "-m", "sim.servers", "--state-dir", str(SIM_DIR), *clock_args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not hosts_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit("run: the fake brokers did not start")
        time.sleep(0.1)
    return process, json.loads(hosts_file.read_text())


def _banner(
    url: str,
    api_port: int,
    outputs: dict[str, object],
    hosts: dict[str, dict[str, str]],
    shifted: ClockShift | None,
) -> None:
    if shifted is None:
        clock_line = "  time             the wall clock (IST)"
    else:
        now = shifted.clock()()
        clock_line = (
            f"  time             SHIFTED: started at {shifted.at:%a %d %b %Y %H:%M:%S} IST when the "
            f"stack was ready, real speed (now {now:%H:%M:%S}; {describe_day(now)})"
        )
    print(
        "\n".join(
            [
                "",
                "optexec is running locally:",
                clock_line,
                f"  API              http://127.0.0.1:{api_port}  (GET /health, /openapi.json)",
                f"  AWS emulator     {url}  (DynamoDB, Cognito, KMS, Step Functions, ...)",
                f"  table            {outputs['table_name']}",
                f"  user pool        {outputs['user_pool_id']} (sign-ups are auto-confirmed)",
                f"  tick machine     {outputs['tick_state_machine_arn']}",
                "  clock            plans each minute 20 s ahead and fires on the second",
                *(f"  fake {dialect:<11} {urls['api']}" for dialect, urls in sorted(hosts.items())),
                '  paper accounts   POST /accounts {"broker":"paper",...}: trade at once on the '
                "simulated exchange (no keys, no login)",
                f"  Try: curl -s http://127.0.0.1:{api_port}/health",
                "Ctrl-C stops everything.",
                "",
            ]
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
