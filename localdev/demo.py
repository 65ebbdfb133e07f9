"""`make demo`: a demo trader, two paper/fake-broker accounts and an iron condor due at the next
minute; prints every order as it is sent and filled, then the exit two minutes later.

Everything runs on this machine: the emulator (started, or the one `make run` started), the
platform applied with Terraform, the simulated exchange with a Kite-dialect fake (the paper
account) and a Noren fake (a Shoonya account), and the planner, firer and settlement in this
process on the local clock. When today is not a trading day, or the session is closed, the demo
runs on a shifted clock: the next trading morning at 09:30 IST, said so on the first line.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import uuid
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from chalicelib.api.schemas import StrategyIn
from chalicelib.container import Container, use_container
from chalicelib.domain.calendar import IST, default_calendar
from chalicelib.settings import Settings
from localdev import emulator, stack
from localdev.clock import Clock
from localdev.terraform import settings_env
from sim.exchange import SimExchange
from sim.servers import adapter_hosts, start_fake_broker

ACCOUNTS = (("paper", "kite", "DEMOPAPER"), ("shoonya", "noren", "DEMOSHOONYA"))


class DemoClock:
    """Now, shifted by a fixed offset (zero on a trading day during the session)."""

    def __init__(self, offset: timedelta) -> None:
        self.offset = offset

    def __call__(self) -> datetime:
        return datetime.now(IST) + self.offset


def demo_clock(now: datetime) -> DemoClock:
    calendar = default_calendar()
    today = now.date()
    opens, closes = calendar.fo_session_bounds(today)
    in_session = (
        calendar.is_trading_day(today)
        and opens <= now.time()
        and now + timedelta(minutes=5) < datetime.combine(today, closes, tzinfo=IST)
    )
    if in_session:
        return DemoClock(timedelta(0))
    day = today + timedelta(days=1)
    while not calendar.is_trading_day(day):
        day += timedelta(days=1)
    target = datetime.combine(day, datetime.min.time(), tzinfo=IST).replace(hour=9, minute=30)
    return DemoClock(target - now)


def iron_condor(
    basket_id: str, accounts: list[str], entry: datetime, exit_at: datetime
) -> dict[str, Any]:
    day = ["MON", "TUE", "WED", "THU", "FRI"][entry.weekday()]
    legs = [
        ("BUY", "CE", 6), ("BUY", "PE", 6),  # wings first: hedges before shorts
        ("SELL", "CE", 2), ("SELL", "PE", 2),
    ]  # fmt: skip
    return {
        "basket_id": basket_id,
        "name": "Demo NIFTY iron condor",
        "underlying": "NIFTY",
        "expiry": "current_week",
        "product": "MIS",
        "entry": {"time": entry.strftime("%H:%M:%S"), "days": [day]},
        "exit": {"time": exit_at.strftime("%H:%M:%S")},
        "allocations": [
            {"account_id": accounts[0], "multiplier": 1},
            {"account_id": accounts[1], "multiplier": 2},
        ],
        "legs": [
            {
                "side": side,
                "option_type": kind,
                "strike": {"method": "ATM_OFFSET", "value": offset},
                "lots": 1,
            }
            for side, kind, offset in legs
        ],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="localdev.demo")
    parser.add_argument("--emulator-port", type=int, default=emulator.DEFAULT_PORT)
    parser.add_argument("--region", default="ap-south-1")
    parser.add_argument("--exit-after-minutes", type=int, default=2)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    url, started_here = stack.emulator_for(args.emulator_port)
    servers = []
    try:
        outputs = stack.apply_platform(url, args.region)
        clock = demo_clock(datetime.now(IST))
        if clock.offset:
            print(
                f"demo: the market is closed now; running on a shifted clock at {clock():%a %d %b %Y %H:%M} IST"
            )
        exchange = SimExchange(seed=7, clock=clock)
        hosts = {}
        for broker, dialect, _ in ACCOUNTS:
            server = start_fake_broker(dialect, exchange)
            servers.append(server)
            hosts[broker] = adapter_hosts(dialect, server)
        env = {**settings_env(outputs, "local", url, args.region), "AUTO_CONFIRM_SIGNUP": "true"}
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
            os.environ.setdefault(name, env[name])  # the emulator's dummy credentials
        settings = dataclasses.replace(Settings.from_env(env), broker_hosts=hosts)
        engine = Container(settings, clock=clock)
        use_container(engine)
        run_demo(engine, servers, clock, args.exit_after_minutes)
    finally:
        for server in servers:
            server.stop()
        use_container(None)
        if started_here:
            emulator.stop(args.emulator_port)


def run_demo(engine: Container, servers: list[Any], clock: DemoClock, exit_after: int) -> None:
    email = f"demo-{uuid.uuid4().hex[:6]}@example.in"
    profile, _ = engine.identity.sign_up(
        email, "Demo-Passw0rd!", "Demo Trader", "+919800000001", "Maharashtra"
    )
    uid = profile.uid
    account_ids = []
    for (broker, _, client_id), server in zip(ACCOUNTS, servers, strict=True):
        key, secret = f"{client_id.lower()}-key", f"{client_id.lower()}-secret"
        server.register_app(key, secret, client_id, engine.broker_sessions.callback_url(broker))
        account = engine.accounts.create(uid, broker=broker, client_id=client_id, label=broker,
                                         secrets={"api_key": key, "api_secret": secret}, static_ip_note=None)  # fmt: skip
        login = engine.broker_sessions.login_url(uid, account.account_id)
        redirect = httpx.get(login, follow_redirects=False, timeout=5).headers["location"]
        engine.broker_sessions.complete_callback(broker, dict(parse_qsl(urlsplit(redirect).query)))
        account_ids.append(account.account_id)
        print(f"account  {broker:<8} {client_id:<12} logged in (fake {server.base_url})")
    basket = engine.baskets.create(uid, "Demo", True)
    runner = Clock(engine, lead=timedelta(seconds=10))
    entry = runner.next_slot(clock())
    exit_at = entry + timedelta(minutes=exit_after)
    body = iron_condor(basket.basket_id, account_ids, entry, exit_at)
    strategy = engine.strategies.create(uid, StrategyIn.model_validate(body).to_domain())
    print(f"strategy {strategy.strategy_id}: NIFTY iron condor, entry {entry:%H:%M:%S}, exit {exit_at:%H:%M:%S} IST,"
          f" accounts x1 and x2")  # fmt: skip
    for slot, phase in ((entry, "ENTRY"), (exit_at, "EXIT")):
        print(
            f"\n{phase} at {slot:%H:%M:%S} (planning {runner.lead.seconds} s ahead) ...", flush=True
        )
        runner._sleep_until(slot - runner.lead)
        figures = runner.tick(slot)
        if figures.get("error"):
            print(f"  tick failed: {figures['error']}")
            return
        sk = f"EXEC#{slot.date().isoformat()}#{strategy.strategy_id}#{phase}"
        report = engine.settlement.settle(uid, sk)
        print_orders(engine, uid, sk)
        print(f"  execution {report.status}")
    print_positions(engine, uid, strategy.strategy_id)


def print_orders(engine: Container, uid: str, execution_sk: str) -> None:
    orders = sorted(
        engine.executions.orders_of_execution(uid, execution_sk), key=lambda o: o.sent_at or ""
    )
    for o in orders:
        r = o.request
        late = ""
        if o.sent_at:
            delta = datetime.fromisoformat(o.sent_at) - datetime.fromisoformat(o.scheduled_at)
            late = f"sent T+{delta.total_seconds() * 1000:6.1f} ms"
        print(f"  {o.broker:<8} {r['side']:<4} {r['quantity']:>4} NIFTY {r['expiry']} {r['strike']} {r['option_type']}"
              f" @ {r['limit_price']:>7}  {late}  {o.status:<9} filled {o.filled_quantity} @ {o.average_price or '-'}")  # fmt: skip


def print_positions(engine: Container, uid: str, strategy_id: str) -> None:
    print("\npositions after exit:")
    for p in engine.executions.positions(uid, strategy_id):
        pnl = float(p.sell_value) - float(p.buy_value)
        print(
            f"  {p.account_id[:8]} {p.symbol:<28} net {p.net_quantity:>5}  realised P&L {pnl:>10.2f}"
        )


if __name__ == "__main__":
    main()
