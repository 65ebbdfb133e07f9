"""A risk monitor in its own process, for the SIGKILL scenarios (``test_sigkilled_monitor.py``).

``python -m tests.integration.risk.monitor_process`` reads one JSON document on stdin: ``env``
(the platform's settings, as the emulator-backed test session has them), ``start`` (the pinned
instant its clock starts from, advancing in real time) and ``traps``: ``[call, predicate,
action, delay]`` each (``harness.Trap``; the predicate by its name in ``harness.PREDICATES``),
e.g. ``["place", "close", "slow", 30]`` holds the broker's answer to a close back 30 s, so the
parent can kill the process between the send and the record. It prints ``ready`` once built,
then runs the monitor's cycle every 0.2 s until killed.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime

from chalicelib.adapters.dynamo.risk_items import RiskRepository
from chalicelib.adapters.dynamo.risk_orders import RiskOrders
from chalicelib.container import Container
from chalicelib.services.broker_access import CachedAccess
from chalicelib.services.clock import ShiftedClock
from chalicelib.services.closing import BrokerLtp
from chalicelib.services.exits import PositionCloser
from chalicelib.services.risk_engine import RiskEngine
from chalicelib.services.settlement import Settlement
from chalicelib.settings import Settings
from tests.integration.risk.harness import FAST, PREDICATES, Trap, TrippingAccess


def main() -> None:
    config = json.loads(sys.stdin.read())
    clock = ShiftedClock(datetime.fromisoformat(config["start"]))
    c = Container(Settings.from_env(config["env"]), clock=clock)
    traps = [
        Trap(call, PREDICATES[when], action, delay=float(delay))
        for call, when, action, delay in config["traps"]
    ]
    access = TrippingAccess(CachedAccess(c.broker_access), traps)
    closer = PositionCloser(c.executions, access, c.market, BrokerLtp(), clock)
    settlement = Settlement(c.executions, c.repo, closer, clock, backoff=FAST)
    engine = RiskEngine(
        RiskRepository(c.settings.schedule_shards), c.repo, settlement, clock,
        RiskOrders(c.executions),
        leases=c.leases, entry_block=c.kill_switch.blocks,
    )  # fmt: skip
    print("ready", flush=True)
    while True:
        engine.cycle()
        time.sleep(0.2)


if __name__ == "__main__":
    main()
