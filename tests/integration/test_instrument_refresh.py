"""Instrument masters end to end on the fake brokers: the morning refresh (the scheduled Lambda)
loads the Angel, Upstox, Dhan and Noren masters into the container's market model, entries for
Angel One, Upstox and Dhan accounts then go out through the planner and the firer with the
brokers' own tokens, and a garbled master the next morning keeps the previous tokens."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from chalicelib.adapters.dynamo.models import SessionItem
from chalicelib.container import Container, use_container
from chalicelib.domain.instrument import Broker
from chalicelib.services.clock import ShiftedClock
from localdev.clock import Clock
from sim.brokers.angel import AngelServer, totp
from sim.servers import adapter_hosts, start_fake_broker
from tests.factories import four_leg_strategy
from tests.integration.conftest import Api, broker_login, sign_up
from tests.integration.test_execution_engine import SLOT

SEED = "JBSWY3DPEHPK3PXP"  # the Angel app's TOTP seed (base32)


class GarblingAngel(AngelServer):
    """The Angel fake, whose scrip master can be cut in half (a download dropped mid-file)."""

    garble = False

    def master(self, request: Any, session: Any, args: dict) -> Any:
        response = super().master(request, session, args)
        if self.garble:
            body = response.get_data()
            response.set_data(body[: len(body) // 2])
        return response


@pytest.fixture
def world(client, fakes, tmp_path) -> Iterator[dict[str, Any]]:
    """The shared fakes plus Angel and Dhan on the same exchange; a container with its own cache."""
    exchange = fakes["servers"]["kite"].exchange
    angel = GarblingAngel(exchange).start(0)
    dhan = start_fake_broker("dhan", exchange)
    hosts = {
        **fakes["settings"].broker_hosts,
        "angelone": adapter_hosts("angel", angel),
        "dhan": adapter_hosts("dhan", dhan),
    }
    settings = dataclasses.replace(
        fakes["settings"], broker_hosts=hosts, instrument_cache_dir=str(tmp_path / "masters")
    )
    engine = Container(settings, clock=ShiftedClock(SLOT - timedelta(seconds=20)))
    use_container(engine)
    try:
        yield {
            "engine": engine,
            "exchange": exchange,
            "angel": angel,
            "dhan": dhan,
            "upstox": fakes["servers"]["upstox"],
            "fakes": fakes,
        }
    finally:
        use_container(fakes["container"])
        angel.stop()
        dhan.stop()


def _account(api: Api, server: Any, settings: Any, broker: str, client_id: str, **extra: Any):
    callback = f"{settings.public_api_url}/brokers/{broker}/callback"
    server.register_app(f"key-{client_id}", SEED, client_id, callback)
    body = {"broker": broker, "client_id": client_id, "label": broker,
            "api_key": f"key-{client_id}", "api_secret": SEED, **extra}  # fmt: skip
    return api.call("POST", "/accounts", body).data


def _trader(client, world) -> dict[str, Any]:
    """Zerodha (the quotes), Angel One (TOTP entry), Upstox (OAuth), Dhan (consent token)."""
    api, uid = sign_up(client)
    settings = world["engine"].settings
    suffix = uid[:4].upper()
    ids = {}
    account, query = broker_login(api, world["fakes"], "zerodha", f"ZE{suffix}")
    assert client.http.get(f"/brokers/zerodha/callback?{query}").status_code == 200
    ids["zerodha"] = account["id"]
    account, query = broker_login(api, world["fakes"], "upstox", f"UP{suffix}")
    assert client.http.get(f"/brokers/upstox/callback?{query}").status_code == 200
    ids["upstox"] = account["id"]

    angel = _account(
        api, world["angel"], settings, "angelone", f"AN{suffix}", extra={"pin": "1234"}
    )
    code = totp(SEED, world["exchange"].now())
    done = api.call("POST", f"/accounts/{angel['id']}/session", {"code": code})
    assert done.status_code == 200, done.body
    ids["angelone"] = angel["id"]

    dhan = _account(api, world["dhan"], settings, "dhan", f"DH{suffix}")
    url = api.call("GET", f"/accounts/{dhan['id']}/login").data["url"]
    location = httpx.get(url, follow_redirects=False, timeout=5).headers["location"]
    token_id = parse_qs(urlsplit(location).query)["tokenId"][0]
    done = api.call("POST", f"/accounts/{dhan['id']}/session", {"code": token_id})
    assert done.status_code == 200, done.body
    ids["dhan"] = dhan["id"]

    for account_id in ids.values():  # sessions that cover the slot day
        session = SessionItem.get(*SessionItem.key(uid, account_id))
        session.update(
            actions=[SessionItem.expires_at.set((SLOT + timedelta(hours=8)).isoformat())]
        )
    basket = api.call("POST", "/baskets", {"name": "masters"}).data["id"]
    body = four_leg_strategy(basket, ids["zerodha"], ids["angelone"])
    body["allocations"] = [{"account_id": i, "multiplier": 1} for i in ids.values()]
    body["entry"] = {"time": "09:20:00", "days": ["WED"]}
    created = api.call("POST", "/strategies", body)
    assert created.status_code == 201, created.body
    return {"uid": uid, "accounts": ids}


def _fire(engine: Container, uid: str) -> tuple[list[Any], dict[str, int]]:
    [mine] = [e for e in engine.planner.plan(SLOT).executions if e.uid == uid]
    assert mine.errors == [], mine.errors
    engine.clock.set(SLOT - timedelta(milliseconds=50))
    return mine.orders, engine.firer.fire(mine.orders)


def _placed(server: Any, path_end: str) -> list[dict[str, Any]]:
    return [
        json.loads(r.body)
        for r in server.received
        if r.method == "POST" and r.path.endswith(path_end)
    ]


def _check_tokens(world: dict[str, Any], orders: list[Any], accounts: dict[str, str]) -> None:
    """Each broker got its own token for exactly the contracts planned for its account."""
    exchange = world["exchange"]
    planned = {
        broker: sorted(
            (o.request["underlying"], o.request["expiry"], o.request["strike"],
             o.request["option_type"])
            for o in orders if o.account_id == account_id
        )
        for broker, account_id in accounts.items()
    }  # fmt: skip

    def keys(tokens: list[str]) -> list[tuple[str, str, str, str]]:
        found = [exchange.resolve(t).key for t in tokens]
        return sorted(
            (k.underlying.value, k.expiry.isoformat(), str(k.strike), k.option_type.value)
            for k in found
        )

    angel = _placed(world["angel"], "/placeOrder")
    assert angel and all(b["symboltoken"].isdigit() for b in angel)
    assert keys([b["symboltoken"] for b in angel]) == planned["angelone"]
    for body in angel:
        assert (
            exchange.resolve(body["symboltoken"]).refs[Broker.ANGEL].symbol
            == (body["tradingsymbol"])
        )
    upstox = _placed(world["upstox"], "/order/place")
    assert all(b["instrument_token"].startswith(("NSE_FO|", "BSE_FO|")) for b in upstox)
    assert keys([b["instrument_token"] for b in upstox]) == planned["upstox"]
    dhan = _placed(world["dhan"], "/orders")
    assert keys([b["securityId"] for b in dhan]) == planned["dhan"]


def test_the_morning_refresh_gives_angel_upstox_and_dhan_orders_their_tokens(client, world):
    engine = world["engine"]
    trader = _trader(client, world)
    event = client.events.generate_cw_event("aws.events", "Scheduled Event", {}, [])
    summary = client.lambda_.invoke("instrument_refresh", event).payload
    assert summary["trading_day"] is True and summary["failed"] == [], summary
    assert {s["broker"]: s["origin"] for s in summary["sources"]} == {
        "angelone": "download", "upstox": "download", "dhan": "download", "shoonya": "download",
    }  # fmt: skip
    listed = world["exchange"].instruments()
    assert summary["contracts"] == len(listed)
    sample = listed[0]
    market = engine.market
    for broker in (Broker.ANGEL, Broker.UPSTOX, Broker.DHAN, Broker.NOREN):
        assert market.broker_ref(broker, sample.key) == sample.refs[broker]

    # the next morning Angel's file arrives cut in half: yesterday's tokens stay, it is reported
    world["angel"].garble = True
    again = engine.instruments.refresh()
    assert again["failed"] == ["angelone"]
    [angel] = [s for s in again["sources"] if s["broker"] == "angelone"]
    assert angel["origin"] == "kept" and angel["code"] == "master_unparseable"
    assert angel["contracts"] == len(listed)
    assert market.broker_ref(Broker.ANGEL, sample.key) == sample.refs[Broker.ANGEL]

    orders, outcome = _fire(engine, trader["uid"])
    brokers = {a: b for b, a in trader["accounts"].items()}
    assert {brokers[o.account_id] for o in orders} == set(trader["accounts"])
    assert outcome == {"sent": len(orders), "failed": 0, "skipped": 0}, outcome
    stored = engine.executions.orders_of_execution(trader["uid"], orders[0].execution)
    assert {o.status for o in stored} == {"OPEN"} and all(o.broker_order_id for o in stored)
    _check_tokens(world, orders, {b: trader["accounts"][b] for b in ("angelone", "upstox", "dhan")})


def test_a_cold_process_loads_a_master_when_it_first_builds_that_brokers_adapter(client, world):
    """No morning job ran in this process: building the Angel adapter before T loads the master."""
    trader = _trader(client, world)
    cold = Container(world["engine"].settings, clock=ShiftedClock(SLOT - timedelta(seconds=20)))
    use_container(cold)
    assert cold.market.master is None  # nothing cached yet for this trading day
    orders, outcome = _fire(cold, trader["uid"])
    assert outcome == {"sent": len(orders), "failed": 0, "skipped": 0}, outcome
    _check_tokens(world, orders, {b: trader["accounts"][b] for b in ("angelone", "upstox", "dhan")})
    # Angel, Upstox and Dhan were loaded lazily (token dialects); Noren waits for the morning job
    master = cold.market.master
    assert master is not None
    assert set(next(iter(master)).refs) == {Broker.ANGEL, Broker.UPSTOX, Broker.DHAN}

    # the next cold process that day reads the cache instead of downloading
    world["angel"].garble = True
    warm = Container(world["engine"].settings, clock=ShiftedClock(SLOT - timedelta(seconds=20)))
    assert warm.market.master is not None
    assert (
        warm.market.broker_ref(Broker.ANGEL, next(iter(master)).key)
        == next(iter(master)).refs[Broker.ANGEL]
    )


def test_the_local_clock_runs_the_refresh_at_08_45(world):
    engine = world["engine"]
    Clock(engine)._daily(datetime(2026, 11, 25, 8, 45, tzinfo=SLOT.tzinfo))
    assert engine.market.master is not None and len(engine.market.master) == len(
        world["exchange"].instruments()
    )
