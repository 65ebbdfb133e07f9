"""Keeps `make run`'s components alive: a component that dies is restarted with backoff and the
restart is logged; the stack never tears itself down because one part failed.

A component is a name, a way to start it and a way to tell it is alive (a child process, or the
emulator found by its pid file). Backoff doubles from 1 s to 30 s and resets once a component has
stayed up for a minute. Children get SIGTERM if the runner itself dies (Linux), so a killed
`make run` leaves no process holding a port.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

PR_SET_PDEATHSIG = 1
MAX_BACKOFF = 30.0
STABLE_AFTER = 60.0


def die_with_parent() -> None:
    """preexec_fn: SIGTERM this child when the process that started it dies (Linux only)."""
    # elsewhere a killed runner leaves its children behind; the port check then names them
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Component:
    name: str
    start: Callable[[], Any]  # returns a handle
    alive: Callable[[Any], bool]
    stop: Callable[[Any], None]
    handle: Any = None
    started_at: float = 0.0
    restarts: int = 0
    backoff: float = 1.0
    restart_at: float | None = None


def process_component(name: str, start: Callable[[], subprocess.Popen[bytes]]) -> Component:
    """A child process: alive while it has not exited; stopped with SIGTERM, then SIGKILL."""
    return Component(name, start, lambda p: p.poll() is None, stop_process)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@dataclass
class Supervisor:
    say: Callable[[str], None] = print
    monotonic: Callable[[], float] = time.monotonic
    components: list[Component] = field(default_factory=list)

    def add(self, component: Component, *, started: Any = None) -> Component:
        """Start ``component`` (or adopt the handle of one already started)."""
        component.handle = started if started is not None else component.start()
        component.started_at = self.monotonic()
        self.components.append(component)
        return component

    def check(self) -> None:
        """One pass: notice deaths, restart what is due (never raises)."""
        now = self.monotonic()
        for c in self.components:
            if c.restart_at is None:
                if c.alive(c.handle):
                    if now - c.started_at >= STABLE_AFTER:
                        c.backoff = 1.0
                    continue
                c.restart_at = now + c.backoff
                self.say(
                    f"run: {c.name} stopped ({describe_exit(c.handle)}); "
                    f"restarting in {c.backoff:.0f} s"
                )
                c.backoff = min(c.backoff * 2, MAX_BACKOFF)
            elif now >= c.restart_at:
                try:
                    c.handle = c.start()
                except (Exception, SystemExit) as error:
                    c.restart_at = now + c.backoff
                    self.say(
                        f"run: {c.name} failed to start ({error}); next try in {c.backoff:.0f} s"
                    )
                    c.backoff = min(c.backoff * 2, MAX_BACKOFF)
                    continue
                c.restarts += 1
                c.started_at, c.restart_at = now, None
                self.say(f"run: {c.name} restarted (restart {c.restarts})")

    def watch(self, interval: float = 0.5, sleep: Callable[[float], None] = time.sleep) -> None:
        """Check forever (until KeyboardInterrupt / SystemExit)."""
        while True:
            self.check()
            sleep(interval)

    def stop_all(self) -> None:
        for c in reversed(self.components):
            try:
                c.stop(c.handle)
            except Exception as error:  # stopping the rest matters more
                self.say(f"run: stopping {c.name}: {error}")


def describe_exit(handle: Any) -> str:
    code = getattr(handle, "returncode", None)
    if code is None:
        return "gone"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"
