"""Fake broker servers in their own process, for the benchmarks.

The benchmarks measure the client's CPU time and send precision; a fake broker in the same process
would share its interpreter lock and CPU accounting with the code under test, which a real broker
never does. This starts one SimExchange (no persistence: a state file rewritten on every order
would slow the answers down) and one server per dialect, prints one JSON line
`{dialect: {"hosts": ..., "root": ...}}` and serves until SIGTERM or stdin closes. Apps are
registered through `POST {root}/_sim/apps`; received order requests (with monotonic_ns, the same
system-wide CLOCK_MONOTONIC as the parent's time.monotonic) come from `GET {root}/_sim/received`.

Run: .venv/bin/python bench/fake_brokers_process.py kite,upstox,noren
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim.exchange import SimExchange
from sim.servers import adapter_hosts, start_fake_broker


def main() -> None:
    dialects = [d for d in (sys.argv[1] if len(sys.argv) > 1 else "kite").split(",") if d]
    exchange = SimExchange(seed=11)
    servers = {d: start_fake_broker(d, exchange) for d in dialects}
    info = {d: {"hosts": adapter_hosts(d, s), "root": s.login_url_base} for d, s in servers.items()}
    sys.stdout.write(json.dumps(info) + "\n")
    sys.stdout.flush()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    with contextlib.suppress(KeyboardInterrupt):
        done.wait()
    for server in servers.values():
        server.stop()


if __name__ == "__main__":
    main()
