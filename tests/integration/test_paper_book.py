"""Forward testing on the platform's own paper book, priced from a live account's quotes.

The deployment here has no simulator for paper (as on AWS): the paper account's orders rest and
fill in the table, priced from the same user's Zerodha account (the fake Kite on the simulated
exchange, whose premiums the test pins). A paper strategy enters, its stop rests in the book,
the price path triggers it on the periodic look, and positions and P&L are what the path says.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from chalicelib.adapters.brokers.paper_book import contract_text
from chalicelib.adapters.dynamo.paper_items import DynamoPaperBook
from chalicelib.adapters.dynamo.risk_items import RiskRepository
from chalicelib.adapters.dynamo.risk_orders import RiskOrders
from chalicelib.domain.calendar import IST
from chalicelib.domain.protection import protected_limit_price
from chalicelib.jobs import paper as paper_job
from chalicelib.paper_wiring import paper_books
from chalicelib.services.closing import unique_tag
from chalicelib.services.order_builder import ChildOrder
from chalicelib.services.risk_engine import RiskEngine
from tests.integration.conftest import sign_up
from tests.integration.execution_rig import FAST, Rig, make_rig

D = Decimal
TEN_AM = datetime(2026, 11, 25, 10, 0, tzinfo=IST)  # a trading Wednesday, mid-session


@pytest.fixture
def rig(client, fakes, platform_clock) -> Rig:
    platform_clock.set(TEN_AM)
    return make_rig(client, fakes)


def test_a_paper_strategy_enters_and_its_stop_triggers_on_live_prices(rig: Rig, client):
    api = rig.api
    body = {"broker": "paper", "client_id": "FWD1", "label": "Forward test",
            "quote_account_id": rig.zerodha["id"]}  # fmt: skip
    created = api.call("POST", "/accounts", body)
    assert created.status_code == 201, created.body
    paper = created.data
    assert paper["quote_account_id"] == rig.zerodha["id"]
    assert paper["session"]["status"] == "VALID"  # no simulator for paper here, no login

    # another user cannot price a paper account from this user's account
    other, _ = sign_up(client, "Other Trader")
    refused = other.call("POST", "/accounts", body)
    assert refused.status_code == 400 and "quote_account_id" in str(refused.body)
    mine = other.call("POST", "/accounts", {**body, "quote_account_id": None}).data
    patched = other.call(
        "PATCH", f"/accounts/{mine['id']}", {"quote_account_id": rig.zerodha["id"]}
    )
    assert patched.status_code == 400 and "quote_account_id" in str(patched.body)

    basket = api.call("POST", "/baskets", {"name": "fwd"}).data["id"]
    strategy = api.call("POST", "/strategies", {
        "basket_id": basket, "name": "paper short call", "underlying": "NIFTY",
        "expiry": "current_week", "product": "MIS",
        "entry": {"time": "09:20:00", "days": ["WED"]}, "exit": {"time": "15:15:00"},
        "allocations": [{"account_id": paper["id"], "multiplier": 1}],
        "legs": [{"side": "SELL", "option_type": "CE", "strike": {"method": "ATM_OFFSET",
                  "value": 0}, "lots": 2, "stop_loss": {"type": "PERCENT", "value": "30"}}],
    })  # fmt: skip
    assert strategy.status_code == 201, strategy.body
    rig.strategy_id = strategy.data["id"]
    [contract] = rig.contracts(1)
    # quotes of a live account are kept a second per process; this price path moves faster
    rig.container.broker_access.paper = paper_books(rig.container, ttl=0.0)
    rig.exchange.set_price(contract.key, D("100"))
    lot = contract.lot_size
    sent_before = len(rig.received("zerodha"))

    execution = rig.execution()
    child = ChildOrder(
        account_id=paper["id"], broker="paper", leg=0, slice_no=0, side="SELL", key=contract.key,
        exchange=contract.exchange.value, lot_size=lot, tick_size=contract.tick_size,
        quantity=2 * lot, limit_price=protected_limit_price("SELL", D(100), on=TEN_AM.date()),
        product="MIS", tag=unique_tag(rig.strategy_id, "ENTRY", 0),
    )  # fmt: skip
    rig.exchange.partial_fill_lots = 1  # the quote shows one lot a side: fills come lot by lot
    try:
        entry = rig.send(execution, child)
        c = rig.container
        placed, _ = DynamoPaperBook().read(rig.uid, paper["id"], entry.broker_order_id)
        assert (placed.status, placed.filled_quantity) == ("OPEN", lot)  # the quoted size
        rig.settlement(FAST).settle(rig.uid, execution.sk)  # its poll fills the next lot
    finally:
        rig.exchange.partial_fill_lots = None
    [entry] = [o for o in c.executions.orders_of_execution(rig.uid, execution.sk)]
    assert entry.status == "COMPLETE" and D(entry.average_price) == D(100)  # at the quote

    now = TEN_AM
    engine = RiskEngine(
        RiskRepository(c.settings.schedule_shards),
        c.repo,
        rig.settlement(FAST),
        lambda: now,
        RiskOrders(c.executions),
    )
    assert engine.arm(rig.uid, execution.sk) is not None
    stops = [
        o for o in c.executions.orders_of_execution(rig.uid, execution.sk) if o.phase == "STOP"
    ]
    assert len(stops) == 1
    adapter = c.broker_access.adapter(rig.uid, paper["id"])
    resting = adapter.status(stops[0].broker_order_id)
    assert resting.status.value == "TRIGGER_PENDING"

    for price, expected in (("120", "TRIGGER_PENDING"), ("129.95", "TRIGGER_PENDING")):
        rig.exchange.set_price(contract.key, D(price))
        assert paper_job.sweep(c)["failed"] == 0
        assert adapter.status(stops[0].broker_order_id).status.value == expected
    rig.exchange.set_price(contract.key, D("131"))
    assert paper_job.sweep(c)["looked"] >= 1  # the periodic look fills the stop
    stored, _contract = DynamoPaperBook().read(rig.uid, paper["id"], stops[0].broker_order_id)
    assert stored.status == "COMPLETE" and stored.filled_quantity == 2 * lot
    filled = adapter.status(stops[0].broker_order_id)
    assert filled.status.value == "COMPLETE" and filled.average_price == D(131)

    engine.cycle(now)  # the monitor sees the stop filled and settles it
    [guard] = engine.books.get(rig.uid, now.date().isoformat(), rig.strategy_id).guards
    assert guard["state"] == "DONE" and guard["reason"] == "STOP_LOSS"
    assert list(rig.positions().values()) == [0]
    pnl = api.call("GET", "/pnl").data
    assert D(pnl["realised"]) == D(-31 * 2 * lot)  # sold at 100, stopped out at 131
    # paper orders never reach a broker: the live account only answered quotes
    assert rig.received("zerodha")[sent_before:] == []


def test_the_tables_conditional_write_lets_one_of_two_stale_writers_through(container):
    from dataclasses import replace

    from chalicelib.domain import paper_matching as pm

    store = DynamoPaperBook()
    order = pm.BookOrder(
        order_id="20261125race", tag="RACE", symbol="NIFTY", side="BUY", quantity=150,
        lot_size=75, order_type="LIMIT", price=D("100"), trigger=None, status="OPEN",
        trading_day=TEN_AM.date(),
    )  # fmt: skip
    assert store.create("race-user", "acct", order, "contract")
    assert not store.create("race-user", "acct", order, "contract")  # never overwrites
    read, _ = store.read("race-user", "acct", order.order_id)
    first = replace(read, filled_quantity=75)
    second = replace(read, filled_quantity=75, average_price=D("99"))
    assert store.save("race-user", "acct", first, "contract")
    assert not store.save("race-user", "acct", second, "contract")  # read before the first write
    done = replace(first, version=1, filled_quantity=150, status="COMPLETE")
    assert store.save("race-user", "acct", done, "contract")
    assert ("race-user", "acct", order.order_id) not in store.open_orders()  # left the index
    stored, _ = store.read("race-user", "acct", order.order_id)
    assert (stored.filled_quantity, stored.version, stored.status) == (150, 2, "COMPLETE")
    # an order left open by a paper account that no longer exists ends on the next sweep
    orphan = replace(order, order_id="20261125orphan", tag="ORPHAN")
    [contract] = rig_free_contract()
    assert store.create("race-user", "gone", orphan, contract_text(contract))
    paper_job.sweep(container)
    ended, _ = store.read("race-user", "gone", orphan.order_id)
    assert ended.status == "CANCELLED"


def rig_free_contract() -> list:
    from chalicelib.domain.instrument import ContractKey, Instrument
    from chalicelib.domain.underlying import Exchange, OptionType, Underlying

    key = ContractKey(Underlying.NIFTY, TEN_AM.date(), D(26000), OptionType.CE)
    return [Instrument(key, Exchange.NFO, 75, D("0.05"))]
