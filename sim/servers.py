"""Start fake broker servers: ``start_fake_broker`` for tests, ``python -m sim.servers`` for
``make run`` (one exchange, one server per dialect, URLs printed, state under --state-dir).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import signal
import sys
import threading
from pathlib import Path

from chalicelib.services.clock import ClockShift
from sim.brokers.base import FakeBrokerServer
from sim.clock import Clock, ist_now
from sim.exchange import SimExchange
from sim.telegram import FakeTelegram

#: dialect -> "module:class" for the dialects built so far.
DIALECTS = {
    "kite": "sim.brokers.kite:KiteServer",
    "angel": "sim.brokers.angel:AngelServer",
    "dhan": "sim.brokers.dhan:DhanServer",
    "upstox": "sim.brokers.upstox:UpstoxServer",
    "noren": "sim.brokers.noren:NorenServer",
    "fyers": "sim.brokers.fyers:FyersServer",
}
#: Dialects of the interface that have no fake server yet (Noren serves Shoonya and Zebu).
NOT_YET_BUILT: frozenset[str] = frozenset()


def server_class(dialect: str) -> type[FakeBrokerServer]:
    """The server class of ``dialect`` (``ValueError`` for an unknown one)."""
    if dialect in NOT_YET_BUILT:
        raise NotImplementedError(f"the {dialect} fake broker is not built yet")
    try:
        module_name, _, class_name = DIALECTS[dialect].partition(":")
    except KeyError:
        raise ValueError(f"unknown dialect {dialect!r}; known: {sorted(DIALECTS)}") from None
    return getattr(importlib.import_module(module_name), class_name)


def start_fake_broker(dialect: str, exchange: SimExchange, port: int = 0) -> FakeBrokerServer:
    """Start the ``dialect`` fake on 127.0.0.1:``port`` (0 = a free port) backed by ``exchange``."""
    return server_class(dialect)(exchange).start(port)


def adapter_hosts(dialect: str, server: FakeBrokerServer) -> dict[str, str]:
    """The host overrides that point our adapter for ``dialect`` at this fake (by host key)."""
    api, root = server.base_url, server.login_url_base
    return {
        "kite": {"api": api, "login": root, "master": api},
        "angel": {"api": api, "login": root, "master": api},
        "dhan": {"api": api, "auth": root, "master": api},
        "upstox": {"api": api, "hft": api, "login": root, "master": api},
        "fyers": {"api": api, "data": f"{root}/data", "master": root},
        "noren": {"api": api, "login": root, "master": root},
    }[dialect]


def exchange_clock(spec: str) -> Clock:
    """The exchange runs on the platform's clock: the wall clock, or the same shifted one."""
    if not spec:
        return ist_now
    return ClockShift.parse(spec).clock()


def main(argv: list[str] | None = None) -> int:
    """Run the fakes until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m sim.servers", description=__doc__)
    parser.add_argument("--dialects", default=",".join(DIALECTS))
    parser.add_argument("--state-dir", type=Path, default=Path(".run/sim"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--port-base", type=int, default=0, help="first port (0 = any free)")
    parser.add_argument(
        "--clock", default="", help="the platform's shifted clock, '<at>@<anchor>' (PLATFORM_CLOCK)"
    )
    parser.add_argument(
        "--telegram",
        default="",
        help="also serve a fake Telegram Bot API for this bot token (make run's notifications)",
    )
    parser.add_argument(
        "--ports",
        type=json.loads,
        default={},
        help='{"kite": 40001, ...}: a restart keeps its URLs',
    )
    args = parser.parse_args(argv)
    exchange = SimExchange(
        seed=args.seed, state_dir=args.state_dir, clock=exchange_clock(args.clock)
    )
    servers = []
    hosts = {}
    for i, dialect in enumerate(d.strip() for d in args.dialects.split(",") if d.strip()):
        port = args.ports.get(dialect) or (args.port_base + i if args.port_base else 0)
        server = start_fake_broker(dialect, exchange, port)
        servers.append(server)
        hosts[dialect] = adapter_hosts(dialect, server)
        sys.stdout.write(f"{dialect}\tapi={server.base_url}\tlogin={server.login_url_base}\n")
    bot = None
    if args.telegram:
        bot = FakeTelegram(token=args.telegram).start(args.ports.get("telegram") or 0)
        hosts["telegram"] = {"api": bot.base_url, "username": bot.username}
        sys.stdout.write(f"telegram\tapi={bot.base_url}\n")
    # `make run` reads this to point the API's adapters at the fakes.
    args.state_dir.mkdir(parents=True, exist_ok=True)
    (args.state_dir / "hosts.json").write_text(json.dumps(hosts, indent=2))
    sys.stdout.flush()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    for server in servers:
        server.stop()
    if bot is not None:
        bot.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
