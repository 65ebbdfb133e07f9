"""The embedded AWS emulator: moto's server on LocalStack's edge port, with the gaps Terraform needs.

LocalStack cannot run on these machines (no Docker, Python 3.11), so `make run` and the test suite use
moto's server on 127.0.0.1:4566. Terraform's AWS provider calls a few Step Functions actions moto does
not implement (ValidateStateMachineDefinition, ListStateMachineVersions); without answers it retries
forever, so a thin WSGI shim answers them. The same shim serves LocalStack's health path so tools
that probe LocalStack see a healthy edge.

Usage: `python -m localdev.emulator start|stop|status|serve [--port N]`.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

DEFAULT_PORT = 4566
ROOT = Path(__file__).resolve().parent.parent
RUN_DIR = ROOT / ".run"
EMULATOR_CONFIG = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}
_SHIMMED_SFN_ACTIONS: dict[str, dict[str, Any]] = {
    "AWSStepFunctions.ValidateStateMachineDefinition": {"result": "OK", "diagnostics": []},
    "AWSStepFunctions.ListStateMachineVersions": {"stateMachineVersions": []},
}
_HEALTH_PATHS = ("/_localstack/health", "/health")

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def shim(app: WsgiApp) -> WsgiApp:
    """Wrap moto's WSGI app with the few answers it lacks.

    DynamoDB requests run one at a time: moto's TransactWriteItems deep-copies tables without a
    lock, so a concurrent write makes it fail with a 500 that real DynamoDB never gives.
    """
    dynamodb = threading.Lock()

    def wrapped(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target in _SHIMMED_SFN_ACTIONS:
            return _json(start_response, _SHIMMED_SFN_ACTIONS[target])
        if environ.get("PATH_INFO") in _HEALTH_PATHS and environ.get("REQUEST_METHOD") == "GET":
            return _json(start_response, {"services": {"moto": "running"}, "edition": "moto"})
        if target.startswith("DynamoDB_"):
            with dynamodb:
                return list(app(environ, start_response))
        return app(environ, start_response)

    return wrapped


class _BackupOncePerTable:
    """moto backs a table up with ``copy.deepcopy`` once per *item* of a TransactWriteItems, so a
    ten-item transaction copies the whole table ten times and the emulator slows as the table
    grows (test runs timed out behind it). Inside one transaction the same table is copied once;
    every copy is still taken before any item is applied, so a rollback restores the same state.
    Only moto's DynamoDB module sees this stand-in for the ``copy`` module.
    """

    def __init__(self) -> None:
        self._memo = threading.local()

    def deepcopy(self, obj: Any, *args: Any, **kwargs: Any) -> Any:
        cache: dict[int, Any] | None = getattr(self._memo, "cache", None)
        if cache is None:
            return copy.deepcopy(obj, *args, **kwargs)
        if id(obj) not in cache:
            cache[id(obj)] = copy.deepcopy(obj, *args, **kwargs)
        return cache[id(obj)]

    def install(self) -> None:
        from moto.dynamodb import models

        original = models.DynamoDBBackend.transact_write_items
        models.copy = self  # type: ignore[assignment]

        def transact_write_items(backend: Any, transact_items: list[dict[str, Any]]) -> None:
            self._memo.cache = {}
            try:
                original(backend, transact_items)
            finally:
                self._memo.cache = None

        models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def _json(start_response: StartResponse, body: dict[str, Any]) -> Iterable[bytes]:
    payload = json.dumps(body).encode()
    start_response(
        "200 OK",
        [("Content-Type", "application/x-amz-json-1.0"), ("Content-Length", str(len(payload)))],
    )
    return [payload]


def serve(port: int, state_dir: Path | None = None) -> None:
    """Run the emulator in the foreground until SIGTERM/SIGINT; with ``state_dir`` its state is
    loaded from there at start and kept there (localdev/emulator_state.py)."""
    os.environ["MOTO_PORT"] = str(port)  # Step Functions tasks call back into the emulator here
    # Requests are recorded only when a test asks (/moto-api/recorder/start-recording: the IAM
    # audit); the file lives with the emulator's log, never in the working tree.
    os.environ.setdefault("MOTO_RECORDER_FILEPATH", str(RUN_DIR / f"emulator-{port}.recording"))
    from moto.core.config import default_user_config
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    default_user_config.update(EMULATOR_CONFIG)  # type: ignore[typeddict-item]
    _BackupOncePerTable().install()
    app: WsgiApp = DomainDispatcherApplication(create_backend_app)
    snapshots = None
    if state_dir is not None:
        from localdev.emulator_state import Snapshots

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per request
        snapshots = Snapshots(state_dir)
        restored = snapshots.restore()
        print(f"emulator: {restored} services restored from {snapshots.path}", flush=True)
        app = snapshots.wrap(app)
        snapshots.start()
    server = make_server(
        "127.0.0.1", port, shim(app), threaded=True, request_handler=MotoRequestHandler
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()
        if snapshots is not None:
            snapshots.close()


def endpoint(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def is_healthy(url: str, timeout: float = 1.0) -> bool:
    """True when something LocalStack-compatible answers on url."""
    for path in (_HEALTH_PATHS[0], "/moto-api/"):
        try:
            with urllib.request.urlopen(url + path, timeout=timeout) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError, ValueError):
            continue
    return False


def configure(url: str) -> None:
    """Enable Step Functions execution; must happen before any state machine is created."""
    request = urllib.request.Request(
        url + "/moto-api/config",
        data=json.dumps(EMULATOR_CONFIG).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5):
            pass
    except urllib.error.HTTPError:
        pass  # a real LocalStack has no moto config endpoint; it executes state machines anyway


def pid_file(port: int) -> Path:
    return RUN_DIR / f"emulator-{port}.pid"


def start(
    port: int,
    wait_seconds: float = 30.0,
    state_dir: Path | None = None,
    preexec: Callable[[], None] | None = None,
) -> str:
    """Start the emulator in the background (or reuse one already configured) and return its URL.

    With ``state_dir`` it keeps its state there across restarts (`make run`)."""
    configured = os.environ.get("AWS_ENDPOINT_URL")
    if configured and is_healthy(configured):
        print(f"emulator: using the running endpoint {configured}")
        configure(configured)
        return configured
    url = endpoint(port)
    pidf = pid_file(port)
    if pidf.exists() and _alive(int(pidf.read_text())):
        raise SystemExit(f"emulator: already running on {url} (pid {pidf.read_text().strip()})")
    if is_healthy(url):
        raise SystemExit(f"emulator: port {port} already serves an emulator not started here")
    RUN_DIR.mkdir(exist_ok=True)
    log = (RUN_DIR / f"emulator-{port}.log").open("ab")
    state_args = ["--state-dir", str(state_dir)] if state_dir is not None else []
    process = subprocess.Popen(
        [sys.executable, "-m", "localdev.emulator", "serve", "--port", str(port), *state_args],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=preexec,
    )
    pidf.write_text(str(process.pid))
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pidf.unlink(missing_ok=True)
            raise SystemExit(f"emulator: exited early, see {RUN_DIR}/emulator-{port}.log")
        if is_healthy(url, timeout=0.5):
            configure(url)
            print(f"emulator: running on {url} (pid {process.pid})")
            return url
        time.sleep(0.1)
    stop(port)
    raise SystemExit(f"emulator: not healthy after {wait_seconds}s")


def stop(port: int) -> None:
    pidf = pid_file(port)
    if not pidf.exists():
        return
    pid = int(pidf.read_text())
    if _alive(pid):
        os.kill(pid, signal.SIGTERM)
        for _ in range(50):
            if not _alive(pid):
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
    pidf.unlink(missing_ok=True)
    print(f"emulator: stopped (pid {pid})")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child counts as gone
        waited, _ = os.waitpid(pid, os.WNOHANG)
        return waited == 0
    except ChildProcessError:
        # not ours: after a kill -9 of `make run` the emulator is an orphan that an init which
        # does not reap (containers) leaves as a zombie forever; that is gone too
        return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """The process has exited and waits to be reaped (Linux /proc; elsewhere: unknown, False)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="localdev.emulator")
    parser.add_argument("command", choices=["start", "stop", "status", "serve"])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--state-dir", type=Path, default=None, help="keep the state here")
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve(args.port, args.state_dir)
    elif args.command == "start":
        start(args.port)
    elif args.command == "stop":
        stop(args.port)
    else:
        healthy = is_healthy(endpoint(args.port))
        print(f"emulator on {endpoint(args.port)}: {'healthy' if healthy else 'down'}")
        sys.exit(0 if healthy else 1)


if __name__ == "__main__":
    main()
