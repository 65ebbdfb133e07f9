"""A paper account needs no broker: created, it trades at once on the simulated exchange, whose
quotes also pick its strikes and mark its P&L."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from chalicelib.container import Container, use_container
from chalicelib.domain.calendar import IST
from localdev.clock import settle_orders
from sim.clock import ManualClock
from sim.exchange import SimExchange
from sim.servers import adapter_hosts, start_fake_broker
from tests.integration.conftest import sign_up

# A Thursday minute no other test schedules (the table is shared by the session's tests)
SLOT = datetime(2026, 11, 26, 10, 7, tzinfo=IST)
LEGS = (("BUY", "CE", 6), ("BUY", "PE", 6), ("SELL", "CE", 2), ("SELL", "PE", 2))


def condor(basket: str, account: str) -> dict:
    return {
        "basket_id": basket,
        "name": "paper condor",
        "underlying": "NIFTY",
        "expiry": "current_week",
        "product": "MIS",
        "entry": {"time": "10:07:00", "days": ["THU"]},
        "exit": {"time": "10:09:00"},
        "allocations": [{"account_id": account, "multiplier": 1}],
        "legs": [
            {"side": side, "option_type": kind, "strike": {"method": "ATM_OFFSET", "value": n},
             "lots": 1}
            for side, kind, n in LEGS
        ],
    }  # fmt: skip


@pytest.fixture(params=["book"])
def paper(request, settings, container) -> Iterator[dict]:
    clock = ManualClock(SLOT - timedelta(seconds=20))
    exchange = SimExchange(seed=5, clock=clock)
    server = start_fake_broker("kite", exchange)
    engine = Container(
        dataclasses.replace(
            settings,
            broker_hosts={"paper": adapter_hosts("kite", server)},
            paper_engine=request.param,
        ),
        clock=clock,
    )
    use_container(engine)
    try:
        yield {"engine": engine, "server": server, "exchange": exchange, "clock": clock}
    finally:
        use_container(container)
        server.stop()


# The platform's book (default) and the older engine, where the simulator matches paper orders.
@pytest.mark.parametrize("paper", ["book", "sim"], indirect=True)
def test_a_paper_account_trades_at_once_without_credentials_or_login(client, paper):
    api, uid = sign_up(client)
    created = api.call(
        "POST", "/accounts", {"broker": "paper", "client_id": "P1", "label": "Paper"}
    )
    assert created.status_code == 201, created.body
    account = created.data
    assert account["session"]["status"] == "VALID" and account["has_api_secret"] is False
    ready = api.call("GET", "/accounts/readiness").data["items"]
    assert [r["usable_today"] for r in ready] == [True]
    assert paper["server"].apps == {}  # nothing registered at the fake by hand

    basket = api.call("POST", "/baskets", {"name": "Weekly"}).data["id"]
    strategy = api.call("POST", "/strategies", condor(basket, account["id"])).data["id"]
    engine: Container = paper["engine"]
    plan = engine.planner.plan(SLOT)
    mine = [e for e in plan.executions if e.uid == uid]
    assert len(mine) == 1 and mine[0].errors == [] and len(mine[0].orders) == 4
    spot = paper["exchange"].spot("NIFTY")
    strikes = sorted(int(o.request["strike"]) for o in mine[0].orders)
    # the simulated exchange's own spot picked the strikes: ATM +-2 and +-6 steps of 50
    atm = round(spot / 50) * 50
    assert strikes == [atm - 300, atm - 100, atm + 100, atm + 300]
    # The preview shows those strikes: it prices on the account's quotes, as the planner does.
    at = SLOT.isoformat().replace("+", "%2B")
    preview = api.call("GET", f"/strategies/{strategy}/preview?at={at}").data
    assert preview["quotes"]["source"] == "paper" and preview["quotes"]["live"] is True
    shown = sorted(int(leg["strike"]) for leg in preview["accounts"][0]["legs"])
    assert shown == strikes

    paper["clock"].set(SLOT)
    assert engine.firer.fire(mine[0].orders)["sent"] == 4
    settle_orders(engine, mine[0].orders)
    positions = api.call("GET", f"/positions?strategy_id={strategy}").data["items"]
    assert len(positions) == 4 and all(p["net_quantity"] for p in positions)
    pnl = api.call("GET", "/pnl").data
    assert pnl["prices"]["source"] == "paper" and pnl["prices"]["live"] is True
    assert pnl["unpriced"] == []
    at_simulator = paper["exchange"].orders(account["id"])  # where the orders were matched
    assert len(at_simulator) == (4 if engine.settings.paper_engine == "sim" else 0)


def test_two_users_paper_accounts_never_share_an_exchange_account(client, paper):
    ids = []
    for _ in range(2):
        api, _uid = sign_up(client)
        body = {"broker": "paper", "client_id": "P1", "label": "Paper"}
        ids.append(api.call("POST", "/accounts", body).data["id"])
    assert set(ids) <= set(paper["exchange"].accounts())


def test_an_unreachable_paper_exchange_leaves_no_half_made_account(client, paper):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    engine: Container = paper["engine"]
    broken = Container(
        dataclasses.replace(engine.settings, broker_hosts={"paper": {"api": dead, "login": dead}}),
        clock=paper["clock"],
    )
    use_container(broken)
    api, _uid = sign_up(client)
    response = api.call("POST", "/accounts", {"broker": "paper", "client_id": "P2", "label": "p"})
    assert response.status_code == 503, response.body
    assert api.call("GET", "/accounts").data["items"] == []
