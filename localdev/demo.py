"""`make demo`: a demo trader, two paper/fake-broker accounts and an iron condor due at the next
minute; prints every order as it is sent and filled, then the exit two minutes later, and last the
messages the trader's Telegram chat received (a fake Telegram Bot API on loopback), day report included.

Everything runs on this machine: the emulator (started, or the one `make run` started), the
platform applied with Terraform, the simulated exchange with a Kite-dialect fake (the paper
account) and a Noren fake (a Shoonya account), and the planner, firer and settlement in this
process on the local clock. When today is not a trading day, or the session is closed, the demo
runs on the shifted clock `make run AT=` uses: the next trading morning at 09:30 IST that is still
ahead (today's, before the open), said so on the first line. `make demo AT=...` picks the instant.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import uuid
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from chalicelib.api.strategy_schemas import StrategyIn
from chalicelib.container import Container, use_container
from chalicelib.domain.calendar import IST, default_calendar
from chalicelib.services.clock import ClockShift, ShiftedClock
from chalicelib.settings import Settings
from localdev import emulator, stack
from localdev.clock import Clock
from localdev.run import parse_at
from localdev.terraform import settings_env
from sim.exchange import SimExchange
from sim.servers import adapter_hosts, start_fake_broker
from sim.telegram import FakeTelegram

ACCOUNTS = (("paper", "kite", "DEMOPAPER"), ("shoonya", "noren", "DEMOSHOONYA"))
#: The demo trader's Telegram chat at the fake Bot API, and the fake bot's stand-in token.
DEMO_CHAT = 91001
DEMO_BOT_TOKEN = "100001:DEMO-fake-telegram-bot"


DEMO_MORNING = time(9, 30)


def demo_clock(now: datetime, at: datetime | None = None) -> ClockShift:
    """The demo's clock: ``at`` if given, else now in a session, else the next morning ahead."""
    return ClockShift(at or demo_start(now), now)


def demo_start(now: datetime) -> datetime:
    """Now when a session has at least five minutes left, else the next trading 09:30 ahead."""
    calendar = default_calendar()
    now = now.astimezone(IST)
    today = now.date()
    opens, closes = calendar.fo_session_bounds(today)
    if (
        calendar.is_trading_day(today)
        and opens <= now.time()
        and now + timedelta(minutes=5) < datetime.combine(today, closes, tzinfo=IST)
    ):
        return now
    day = today
    while not (
        calendar.is_trading_day(day) and datetime.combine(day, DEMO_MORNING, tzinfo=IST) > now
    ):
        day += timedelta(days=1)
    return datetime.combine(day, DEMO_MORNING, tzinfo=IST)


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
    parser.add_argument(
        "--at", type=parse_at, default=None, help="start the demo at this IST instant"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    root = stack.state_root(args.emulator_port)  # the same platform `make run` keeps
    url, started_here = stack.emulator_for(args.emulator_port, root / "emulator")
    servers = []
    telegram = FakeTelegram(DEMO_BOT_TOKEN, username="optexec_demo_bot").start()
    try:
        outputs = stack.apply_platform(url, args.region, root / "terraform")
        shift = demo_clock(datetime.now(IST), args.at)
        clock = shift.clock()
        if abs(shift.offset) > timedelta(seconds=1):
            print(
                f"demo: running on a shifted clock from {clock():%a %d %b %Y %H:%M:%S} IST (real speed)"
            )
        exchange = SimExchange(seed=7, clock=clock)
        hosts = {}
        for broker, dialect, _ in ACCOUNTS:
            server = start_fake_broker(dialect, exchange)
            servers.append(server)
            hosts[broker] = adapter_hosts(dialect, server)
        env = {**settings_env(outputs, "local", url, args.region), "AUTO_CONFIRM_SIGNUP": "true"}
        env["PLATFORM_CLOCK"] = shift.spec()
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
            os.environ.setdefault(name, env[name])  # the emulator's dummy credentials
        settings = dataclasses.replace(
            Settings.from_env(env), broker_hosts=hosts, telegram_api_url=telegram.base_url,
            telegram_bot_token=DEMO_BOT_TOKEN, telegram_bot_username=telegram.username,
        )  # fmt: skip
        engine = Container(settings)  # the shifted clock, through the setting
        use_container(engine)
        run_demo(engine, servers, clock, args.exit_after_minutes, telegram)
    finally:
        for server in servers:
            server.stop()
        telegram.stop()
        use_container(None)
        if started_here:
            emulator.stop(args.emulator_port)


def run_demo(
    engine: Container,
    servers: list[Any],
    clock: ShiftedClock,
    exit_after: int,
    telegram: FakeTelegram | None = None,
) -> None:
    email = f"demo-{uuid.uuid4().hex[:6]}@example.in"
    profile, _ = engine.identity.sign_up(
        email, "Demo-Passw0rd!", "Demo Trader", "+919800000001", "Maharashtra"
    )
    uid = profile.uid
    if telegram is not None:
        link_telegram(engine, telegram, uid)
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
    if telegram is not None:
        engine.notifications.day_report(entry.date().isoformat(), [uid])
        print_telegram(engine, telegram)


def link_telegram(engine: Container, telegram: FakeTelegram, uid: str) -> None:
    """What a trader does in the app: open the bot's deep link and press Start."""
    link = engine.notifications.linking.link_url(uid)["url"]
    code = dict(parse_qsl(urlsplit(link).query))["start"]
    telegram.user_sends(DEMO_CHAT, f"/start {code}", first_name="Demo")
    engine.notifications.linking.poll()
    print(f"telegram chat {DEMO_CHAT} linked through {link.split('?')[0]} (fake Bot API)")


def print_telegram(engine: Container, telegram: FakeTelegram) -> None:
    if not engine.notifications.queue.drain(timeout=30):
        print("\n(some Telegram messages were still queued after 30 s)")
    messages = telegram.messages(DEMO_CHAT)
    print(f"\nTelegram: {len(messages)} message(s) the trader's chat received:")
    for message in messages:
        print("  ---")
        print("\n".join(f"  {line}" for line in message["text"].splitlines()))


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
