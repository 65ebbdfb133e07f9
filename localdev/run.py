"""`make run`: the whole platform on one machine.

Checks its ports first, starts the embedded AWS emulator (or uses AWS_ENDPOINT_URL) with the state
it kept, applies infra/ with Terraform when infra/ changed (or the emulator lost it), starts the
simulated exchange with a fake server per broker dialect, serves the API with `chalice local` with
every broker pointed at its fake (a local run never reaches a real broker), runs the clock process
(plans each minute ahead, fires on the second), prints each step with its elapsed time and where
everything is, keeps every component alive (restarted with backoff when it dies), and stops it
all on Ctrl-C. Everything it keeps is under .run/local-<PORT>/ (`make reset` wipes it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from chalicelib.domain.brokers import CATALOGUE
from chalicelib.domain.calendar import IST, default_calendar
from chalicelib.services.clock import ClockShift
from localdev import emulator, stack, terraform, webapp
from localdev.supervisor import Component, Supervisor, die_with_parent, process_component

ROOT = Path(__file__).resolve().parent.parent
#: The fake bot's token: a local stand-in, valid only at the fake Telegram on 127.0.0.1.
LOCAL_BOT_TOKEN = "100000:LOCAL-fake-telegram-bot"
# Which fake serves each broker name locally (paper: the Kite-dialect fake prices its book).
FAKE_OF = {e.name: e.dialect for e in CATALOGUE}
API_READY_SECONDS = 60.0
RUN_PID = "run.pid"


class Steps:
    """Prints each start-up step with the time elapsed since the command started."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.monotonic = monotonic
        self.started = monotonic()

    def elapsed(self) -> float:
        return self.monotonic() - self.started

    def say(self, message: str) -> None:
        print(f"[{self.elapsed():6.1f}s] {message}", flush=True)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        began = self.monotonic()
        self.say(f"{name} ...")
        yield
        self.say(f"{name}: done in {self.monotonic() - began:.1f}s")


def port_in_use(port: int) -> bool:
    """Something already listens on 127.0.0.1:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def busy_ports(
    emulator_port: int,
    api_port: int,
    *,
    emulator_reusable: bool,
    in_use: Callable[[int], bool] = port_in_use,
) -> list[str]:
    """Why the stack cannot start on these ports (empty when it can), naming the variable."""
    problems = []
    if emulator_port == api_port:
        problems.append(f"PORT and API_PORT are both {api_port}: choose two ports")
    elif in_use(emulator_port) and not emulator_reusable:
        problems.append(
            f"port {emulator_port} (PORT, the AWS emulator) is in use by another program: "
            f"stop it or choose another, e.g. make run PORT={emulator_port + 1}"
        )
    if in_use(api_port):
        problems.append(
            f"port {api_port} (API_PORT, the HTTP API) is in use by another program: "
            f"stop it or choose another, e.g. make run API_PORT={api_port + 1}"
        )
    return problems


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="localdev.run")
    parser.add_argument("--emulator-port", type=int, default=emulator.DEFAULT_PORT)
    parser.add_argument("--api-port", type=int, default=8000)
    parser.add_argument("--region", default="ap-south-1")
    parser.add_argument("--web-port", type=int, default=5173, help="the web app (0: no web app)")
    parser.add_argument(
        "--at",
        type=parse_at,
        default=None,
        help="run the platform from this IST instant at real speed (e.g. 2026-12-01T09:19:30+05:30)",
    )
    parser.add_argument("--reset", action="store_true", help="wipe the kept state and exit")
    parser.add_argument(
        "--state-root", type=Path, default=None, help="default .run/local-<emulator port>"
    )
    args = parser.parse_args(argv)
    root = args.state_root or stack.state_root(args.emulator_port)
    if args.reset:
        print(reset(root, args.emulator_port))
        return
    steps = Steps()
    other = running_pid(root)
    if other is not None:
        raise SystemExit(
            f"run: `make run` is already running on PORT={args.emulator_port} (pid {other}): "
            "use it, stop it, or choose another PORT"
        )
    configured = os.environ.get("AWS_ENDPOINT_URL")
    external = bool(configured) and emulator.is_healthy(configured)
    reusable = external or emulator.is_healthy(emulator.endpoint(args.emulator_port), 0.5)
    problems = busy_ports(args.emulator_port, args.api_port, emulator_reusable=reusable)
    if args.web_port and (
        args.web_port in (args.emulator_port, args.api_port) or port_in_use(args.web_port)
    ):
        problems.append(
            f"port {args.web_port} (WEB_PORT, the web app) is in use or clashes: choose another, "
            f"e.g. make run WEB_PORT={args.web_port + 1}"
        )
    if problems:
        raise SystemExit("run: cannot start:\n  " + "\n  ".join(problems))
    web_build = _WebBuild(steps.say) if args.web_port else None
    steps.say(
        f"ports {args.emulator_port} (PORT) and {args.api_port} (API_PORT) are free; state in {root}"
    )
    supervisor = Supervisor(say=steps.say)
    started_here = False
    web: webapp.WebServer | None = None
    root.mkdir(parents=True, exist_ok=True)
    (root / RUN_PID).write_text(str(os.getpid()))
    try:
        with steps.step("emulator"):
            url, started_here = stack.emulator_for(
                args.emulator_port, root / "emulator", preexec=die_with_parent
            )
        if started_here:
            supervisor.add(_emulator_component(args.emulator_port, root), started=True)
        with steps.step("infra"):
            outputs = stack.apply_platform(url, args.region, root / "terraform")
        env = {**os.environ, **terraform.settings_env(outputs, "local", url, args.region)}
        env["AUTO_CONFIRM_SIGNUP"] = "true"
        env["PUBLIC_API_URL"] = f"http://127.0.0.1:{args.api_port}"
        if args.web_port:
            env["WEB_APP_URL"] = f"http://127.0.0.1:{args.web_port}"
        shifted = ClockShift(args.at, datetime.now(IST)) if args.at else None
        if shifted is not None:  # the shifted clock starts now that the AWS side is ready
            env["PLATFORM_CLOCK"] = shifted.spec()
        with steps.step("simulated exchange and fake brokers"):
            fakes = FakeBrokers(root / "sim", shifted.spec() if shifted else "", LOCAL_BOT_TOKEN)
            supervisor.add(process_component("fake brokers", fakes.start))
        env["BROKER_HOSTS"] = json.dumps(
            {b: fakes.hosts[d] for b, d in FAKE_OF.items() if d in fakes.hosts}
        )
        env.update(telegram_env(fakes.hosts))
        with steps.step("API and clock"):
            supervisor.add(process_component("API", lambda: _start_api(args.api_port, env)))
            supervisor.add(process_component("clock", lambda: _start_clock(env)))
            _wait_for_api(args.api_port, supervisor)
        if web_build is not None:
            with steps.step("web app"):
                config = webapp.runtime_config("/api", "local", outputs, args.region)
                web = web_build.serve(args.web_port, args.api_port, config)
        steps.say(f"healthy in {steps.elapsed():.1f}s")
        _banner(url, args.api_port, outputs, fakes.hosts, shifted, root, web)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started in background
        supervisor.watch()
    except KeyboardInterrupt:
        print("\nrun: stopping ...", flush=True)
    finally:
        if web is not None:
            web.stop()
        supervisor.stop_all()
        if started_here:
            emulator.stop(args.emulator_port)
        (root / RUN_PID).unlink(missing_ok=True)


def telegram_env(hosts: dict[str, dict[str, str]]) -> dict[str, str]:
    """Point the platform's bot at the fake Telegram the sim process serves (when it does)."""
    bot = hosts.get("telegram")
    if not bot:
        return {}
    return {
        "TELEGRAM_API_URL": bot["api"],
        "TELEGRAM_BOT_TOKEN": LOCAL_BOT_TOKEN,
        "TELEGRAM_BOT_USERNAME": bot["username"],
    }


class _WebBuild:
    """Builds the web app (npm ci + build when stale) while the emulator and infra start."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self.ok = False
        self.thread = threading.Thread(target=self._build, args=(say,), daemon=True)
        self.thread.start()

    def _build(self, say: Callable[[str], None]) -> None:
        self.ok = webapp.ensure_built(say)

    def serve(self, port: int, api_port: int, config: dict[str, str]) -> webapp.WebServer | None:
        self.thread.join()
        if not self.ok:
            return None
        return webapp.WebServer(port, api_port, config).start()


def running_pid(root: Path) -> int | None:
    """The pid of a live `make run` using ``root`` (a stale file from a killed one is ignored)."""
    try:
        pid = int((root / RUN_PID).read_text())
    except (FileNotFoundError, ValueError):
        return None
    return pid if pid != os.getpid() and emulator._alive(pid) else None


def reset(root: Path, port: int) -> str:
    """Wipe the platform's and the simulated exchange's kept state together."""
    pid_file = emulator.pid_file(port)
    if running_pid(root) is not None or (
        pid_file.exists() and emulator._alive(int(pid_file.read_text()))
    ):
        raise SystemExit(f"reset: a stack is running on port {port}: stop it (Ctrl-C) first")
    shutil.rmtree(root, ignore_errors=True)
    return f"reset: removed {root} (users, accounts, strategies, orders, exchange state)"


def _emulator_component(port: int, root: Path) -> Component:
    def start() -> bool:
        emulator.start(port, state_dir=root / "emulator", preexec=die_with_parent)
        return True

    def alive(_: object) -> bool:
        pid_file = emulator.pid_file(port)
        return pid_file.exists() and emulator._alive(int(pid_file.read_text()))

    return Component("AWS emulator", start, alive, lambda _: emulator.stop(port))


class FakeBrokers:
    """The simulated exchange and the six dialect fakes in one process, state under ``state_dir``.

    The first start picks free ports; a restart (supervision) reuses them, so the URLs the API
    and the clock were given stay right."""

    def __init__(self, state_dir: Path, clock_spec: str, telegram_token: str = "") -> None:
        self.state_dir = state_dir
        self.clock_spec = clock_spec
        self.telegram_token = telegram_token
        self.hosts: dict[str, dict[str, str]] = {}
        self.ports: dict[str, int] = {}

    def start(self) -> subprocess.Popen[bytes]:
        hosts_file = self.state_dir / "hosts.json"
        hosts_file.unlink(missing_ok=True)
        args = ["--state-dir", str(self.state_dir)]
        if self.clock_spec:
            args += ["--clock", self.clock_spec]
        if self.telegram_token:
            args += ["--telegram", self.telegram_token]
        if self.ports:
            args += ["--ports", json.dumps(self.ports)]
        process = subprocess.Popen(
            [sys.executable, "-m", "sim.servers", *args],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )
        deadline = time.monotonic() + 30
        while not hosts_file.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise SystemExit("run: the fake brokers did not start")
            time.sleep(0.05)
        self.hosts = json.loads(hosts_file.read_text())
        self.ports = {
            d: int(urls["api"].split(":")[2].split("/")[0]) for d, urls in self.hosts.items()
        }
        return process


def _start_api(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            str(Path(sys.executable).parent / "chalice"),
            "local",
            "--host", "127.0.0.1",
            "--port", str(port),
            "--stage", "local",
            "--no-autoreload",
        ],
        cwd=ROOT,
        env=env,
        preexec_fn=die_with_parent,
    )  # fmt: skip


def _start_clock(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "localdev.clock"], cwd=ROOT, env=env, preexec_fn=die_with_parent
    )


def _wait_for_api(port: int, supervisor: Supervisor) -> None:
    deadline = time.monotonic() + API_READY_SECONDS
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as reply:
                if reply.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        supervisor.check()  # a component that died while starting is restarted now
        time.sleep(0.1)
    raise SystemExit(f"run: the API did not answer on port {port} within {API_READY_SECONDS:.0f}s")


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


def _banner(
    url: str,
    api_port: int,
    outputs: dict[str, object],
    hosts: dict[str, dict[str, str]],
    shifted: ClockShift | None,
    root: Path,
    web: webapp.WebServer | None = None,
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
                (
                    f"  web app          {web.url}  (open it in a browser)"
                    if web
                    else "  web app          not served (see the lines above)"
                ),
                f"  API              http://127.0.0.1:{api_port}  (GET /health, /openapi.json)",
                f"  AWS emulator     {url}  (DynamoDB, Cognito, KMS, Step Functions, ...)",
                f"  table            {outputs['table_name']}",
                f"  user pool        {outputs['user_pool_id']} (sign-ups are auto-confirmed)",
                f"  tick machine     {outputs['tick_state_machine_arn']}",
                "  clock            plans each minute 20 s ahead and fires on the second",
                *(f"  fake {dialect:<11} {urls['api']}" for dialect, urls in sorted(hosts.items())),
                *(
                    [
                        "  telegram         POST /notifications/telegram/link, then play the user: "
                        f"curl -XPOST {hosts['telegram']['api']}/_sim/updates "
                        '-d \'{"chat_id":1,"text":"/start <code>"}\'; '
                        f"messages: GET {hosts['telegram']['api']}/_sim/messages?chat_id=1"
                    ]
                    if "telegram" in hosts
                    else []
                ),
                '  paper accounts   POST /accounts {"broker":"paper",...}: trade at once (no keys, '
                "no login) in the platform's paper book, at the simulated exchange's prices",
                f"  state            {root}  (kept across restarts; `make reset` wipes it)",
                f"  Try: curl -s http://127.0.0.1:{api_port}/health",
                "Ctrl-C stops everything; a component that dies is restarted.",
                "",
            ]
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
