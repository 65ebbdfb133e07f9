"""`make run`'s start: busy ports named before anything starts, steps timed, components kept
alive with backoff, Terraform skipped when nothing changed, state reset together."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from localdev import stack
from localdev.run import Steps, busy_ports, port_in_use, reset, running_pid
from localdev.supervisor import Component, Supervisor, describe_exit


def test_busy_ports_are_named_by_their_variable():
    taken = {4566, 8000}
    problems = busy_ports(4566, 8000, emulator_reusable=False, in_use=taken.__contains__)
    assert "(PORT, the AWS emulator)" in problems[0] and "make run PORT=4567" in problems[0]
    assert "(API_PORT, the HTTP API)" in problems[1] and "make run API_PORT=8001" in problems[1]
    # an emulator already serving PORT (make emulator, LocalStack) is used, not refused
    assert busy_ports(4566, 8001, emulator_reusable=True, in_use=taken.__contains__) == []
    assert "both 4566" in busy_ports(4566, 4566, emulator_reusable=False, in_use=lambda p: False)[0]


def test_a_listening_socket_is_seen_as_busy():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert port_in_use(port)
    assert not port_in_use(port)


def test_steps_print_their_elapsed_time(capsys):
    now = [0.0]
    steps = Steps(monotonic=lambda: now[0])
    now[0] = 1.0
    with steps.step("infra"):
        now[0] = 3.5
    assert capsys.readouterr().out.splitlines() == [
        "[   1.0s] infra ...",
        "[   3.5s] infra: done in 2.5s",
    ]


class Fake:
    def __init__(self) -> None:
        self.up = True
        self.returncode = None


def test_a_dead_component_is_restarted_with_backoff_and_logged():
    now = [0.0]
    said: list[str] = []
    started: list[Fake] = []

    def start() -> Fake:
        started.append(Fake())
        return started[-1]

    supervisor = Supervisor(say=said.append, monotonic=lambda: now[0])
    clock = supervisor.add(Component("clock", start, lambda f: f.up, lambda f: None))
    supervisor.check()
    assert said == []
    started[-1].up, started[-1].returncode = False, -9
    supervisor.check()
    assert said == ["run: clock stopped (killed by SIGKILL); restarting in 1 s"]
    now[0] = 0.5
    supervisor.check()
    assert len(started) == 1  # not before the backoff
    now[0] = 1.0
    supervisor.check()
    assert len(started) == 2 and said[-1] == "run: clock restarted (restart 1)"
    started[-1].up = False  # dies again at once: the wait doubles
    supervisor.check()
    assert said[-1].endswith("restarting in 2 s")
    now[0] = 3.0
    supervisor.check()
    now[0] = 70.0  # up for a minute: the backoff starts again from 1 s
    supervisor.check()
    assert clock.backoff == 1.0 and clock.restarts == 2


def test_a_component_that_cannot_start_is_retried_not_fatal():
    said: list[str] = []
    attempts = []

    def start():
        attempts.append(1)
        if len(attempts) == 2:
            raise SystemExit("the fake brokers did not start")
        return Fake()

    now = [0.0]
    supervisor = Supervisor(say=said.append, monotonic=lambda: now[0])
    component = supervisor.add(Component("fake brokers", start, lambda f: f.up, lambda f: None))
    component.handle.up = False
    supervisor.check()
    now[0] = 1.0
    supervisor.check()
    assert "failed to start (the fake brokers did not start); next try in 2 s" in said[-1]
    now[0] = 3.0
    supervisor.check()
    assert said[-1] == "run: fake brokers restarted (restart 1)"


def test_exit_descriptions():
    done = subprocess.run([sys.executable, "-c", "raise SystemExit(3)"], check=False)
    assert describe_exit(done) == "exit code 3"
    assert describe_exit(object()) == "gone"


def test_terraform_is_skipped_only_when_infra_and_inputs_are_unchanged(tmp_path: Path):
    infra = tmp_path / "infra"
    infra.mkdir()
    (infra / "main.tf").write_text("resource {}")
    (infra / "tick.asl.json.tftpl").write_text("{}")
    base = stack.fingerprint("http://127.0.0.1:4566", "ap-south-1", infra)
    assert base == stack.fingerprint("http://127.0.0.1:4566", "ap-south-1", infra)
    (infra / "app.tf").write_text("packaged for AWS")  # not applied locally
    (infra / "terraform.tfstate").write_text("{}")
    assert stack.fingerprint("http://127.0.0.1:4566", "ap-south-1", infra) == base
    assert stack.fingerprint("http://127.0.0.1:4610", "ap-south-1", infra) != base
    (infra / "tick.asl.json.tftpl").write_text('{"changed": true}')
    assert stack.fingerprint("http://127.0.0.1:4566", "ap-south-1", infra) != base


def test_present_needs_the_emulator_to_hold_the_resources():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        nobody = f"http://127.0.0.1:{s.getsockname()[1]}"
    outputs = {"table_name": "t", "user_pool_id": "p", "secrets_kms_key_id": "k",
               "tick_state_machine_arn": "arn"}  # fmt: skip
    assert stack.platform_present(nobody, "ap-south-1", outputs) is False


def test_reset_wipes_platform_and_exchange_state_together(tmp_path: Path):
    root = tmp_path / "local-4999"
    for part in ("emulator", "sim", "terraform"):
        (root / part).mkdir(parents=True)
        (root / part / "state").write_text("x")
    assert "removed" in reset(root, 4999) and not root.exists()


def test_a_second_run_on_the_same_port_is_refused_and_a_stale_pid_ignored(tmp_path: Path):
    root = tmp_path / "local-4998"
    root.mkdir()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (root / "run.pid").write_text(str(sleeper.pid))
        assert running_pid(root) == sleeper.pid
        with pytest.raises(SystemExit, match="stop it"):
            reset(root, 4998)  # a running stack's state is not pulled from under it
        assert root.exists()
    finally:
        sleeper.kill()
        sleeper.wait()
    assert running_pid(root) is None
    (root / "run.pid").write_text(str(os.getpid()))
    assert running_pid(root) is None  # our own pid is not "another run"


def test_a_killed_emulator_left_as_a_zombie_counts_as_gone():
    from localdev import emulator

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    for _ in range(100):  # exited, not reaped yet: a zombie
        if emulator._zombie(child.pid):
            break
        time.sleep(0.05)
    assert emulator._zombie(child.pid)
    child.wait()
    assert not emulator._zombie(os.getpid())
