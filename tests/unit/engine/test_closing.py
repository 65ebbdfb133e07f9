"""The closer's decisions on the in-memory store: it closes what positions hold (never a stale
intraday position or an expired contract), prices a contract through another account of the user
when its own broker cannot, and records a closing order it cannot send never-sent rather than
losing it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from chalicelib.domain import order_lifecycle as lc
from chalicelib.domain.instrument import ContractKey
from chalicelib.domain.underlying import OptionType, Underlying
from chalicelib.ports.broker import Side
from chalicelib.services.closing import canonical_symbol, contract_doc
from chalicelib.services.order_builder import ChildOrder
from tests.fakes.executions import execution_sk, position_sk
from tests.fakes.records import Position
from tests.unit.engine.settling import CE, DAY, LOT, PE, STRATEGY, UID, World

EXPIRED = ContractKey(Underlying.NIFTY, date(2026, 11, 24), Decimal("26000"), OptionType.CE)


def _hold(
    w: World, net: int, key=CE, account="A1", *, product="MIS", changed=f"{DAY}T09:20:00+05:30"
):
    child = ChildOrder(
        account_id=account, broker="zerodha", leg=0, slice_no=0, side="SELL", key=key,
        exchange="NFO", lot_size=LOT, tick_size=Decimal("0.05"), quantity=LOT,
        limit_price=Decimal("100"), product=product, tag="E1",
    )  # fmt: skip
    symbol = canonical_symbol(key)
    sk = position_sk(STRATEGY, account, symbol)
    w.store.positions_by_key[(UID, sk)] = Position(
        sk=sk, uid=UID, strategy_id=STRATEGY, account_id=account, symbol=symbol,
        contract=contract_doc(child.to_dict(), "SYM"), net_quantity=net, version=1,
        updated_at=changed,
    )  # fmt: skip


def test_exit_orders_close_what_is_held_shorts_first():
    w = World()
    _hold(w, -LOT, CE)
    _hold(w, LOT, PE)
    _hold(w, 0, CE, "A2")  # flat: nothing to close

    orders, errors = w.closer.exit_orders(UID, STRATEGY)

    assert errors == []
    assert [(o.side, o.key, o.account_id, o.quantity) for o in orders] == [
        ("BUY", CE, "A1", LOT), ("SELL", PE, "A1", LOT),
    ]  # fmt: skip


def test_a_stale_intraday_position_and_an_expired_contract_are_not_closed():
    w = World()
    _hold(w, -LOT, CE, changed="2026-11-30T15:00:00+05:30")  # MIS: squared off by the broker
    _hold(w, -LOT, EXPIRED, product="NRML")
    _hold(w, -LOT, PE, product="NRML", changed="2026-11-30T15:00:00+05:30")  # carried: still held

    held = w.closer.holdings(UID, STRATEGY)

    assert [(h.key, h.net_quantity) for h in held] == [(PE, -LOT)]


def test_a_contract_its_own_broker_cannot_price_is_priced_through_another_account():
    w = World()
    w.brokers["A2"].prices.clear()  # a dialect that cannot quote without its master
    _hold(w, -LOT, PE, "A1")
    _hold(w, -LOT, CE, "A2")

    orders, errors = w.closer.exit_orders(UID, STRATEGY)

    assert errors == []
    on_a2 = [o for o in orders if o.account_id == "A2"]
    assert [o.key for o in on_a2] == [CE]
    assert on_a2[0].limit_price > Decimal("100")  # protected above the LTP A1 quoted


def test_a_closing_order_without_a_usable_account_is_stored_never_sent():
    w = World()
    child = ChildOrder(
        account_id="GONE", broker="zerodha", leg=0, slice_no=0, side="BUY", key=CE,
        exchange="NFO", lot_size=LOT, tick_size=Decimal("0.05"), quantity=LOT,
        limit_price=Decimal("103"), product="MIS", tag="s1U000ABCD",
    )  # fmt: skip

    sent = w.closer.send_closing(UID, execution_sk(DAY, STRATEGY, "ENTRY"), STRATEGY, [child],
                                 phase="UNWIND")  # fmt: skip

    stored = w.stored(sent[0])
    assert stored.status == lc.FAILED and stored.error["kind"] == "no_adapter"


def test_a_closing_order_is_stored_before_it_leaves_and_acknowledged_after():
    w = World()
    child = ChildOrder(
        account_id="A1", broker="zerodha", leg=0, slice_no=0, side="BUY", key=CE,
        exchange="NFO", lot_size=LOT, tick_size=Decimal("0.05"), quantity=LOT,
        limit_price=Decimal("103"), product="MIS", tag="s1U000ABCD",
    )  # fmt: skip
    seen = []
    w.store.before_write = lambda operation, record: seen.append(operation)

    sent = w.closer.send_closing(UID, execution_sk(DAY, STRATEGY, "ENTRY"), STRATEGY, [child],
                                 phase="UNWIND")  # fmt: skip

    assert seen == ["record_sent", "record_ack"]
    stored = w.stored(sent[0])
    assert stored.status == lc.OPEN and stored.broker_order_id is not None
    assert w.brokers["A1"].placed[0].side == Side.BUY
