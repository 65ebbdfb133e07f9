"""Reports on in-memory stores: what the P&L counts and how it is priced and rounded, what an
execution's detail and the risk report show, and that every read stays in the caller's records."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from chalicelib.domain.instrument import ContractKey
from chalicelib.domain.underlying import OptionType, Underlying
from chalicelib.errors import NotFound
from chalicelib.services.reports import Reports
from tests.fakes.kill_switch_orders import FakeOrderStore
from tests.fakes.records import Execution, Order, Position, RiskBook
from tests.fakes.reports import FakeQuotes, FakeRiskBooks
from tests.unit.engine.kill_switch_rig import CONTRACT, DAY, KEY, UID, Clock

TODAY = f"{DAY}T10:00:00.000+05:30"


def reports() -> tuple[Reports, FakeOrderStore, FakeRiskBooks, FakeQuotes]:
    store, books, quotes = FakeOrderStore(), FakeRiskBooks(), FakeQuotes()
    return Reports(store, books, Clock(), lambda uid: quotes), store, books, quotes


def position(
    symbol: str, *, updated_at: str = TODAY, contract: dict | None = None, **q
) -> Position:
    return Position(
        sk=f"POS#s1#A1#{symbol}", uid=UID, strategy_id="s1", account_id="A1", symbol=symbol,
        contract=contract or dict(CONTRACT), updated_at=updated_at, **q,
    )  # fmt: skip


def test_pnl_realises_closed_units_and_marks_open_ones_at_the_last_price():
    service, store, _, quotes = reports()
    store.add_position(position("CLOSED", buy_quantity=65, buy_value="6500", sell_quantity=65,
                                sell_value="7800"))  # fmt: skip
    store.add_position(position("SHORT", sell_quantity=130, sell_value="13000", net_quantity=-130))
    quotes.premiums[KEY] = Decimal("90")
    report = service.pnl(UID, DAY)
    assert report.realised == Decimal("1300.00")
    assert report.unrealised == Decimal("1300.00")  # (90 - 100) x -130
    assert report.total == Decimal("2600.00") and report.unpriced == []
    assert report.source is quotes
    short = next(p for p in report.positions if p.position.symbol == "SHORT")
    assert short.sell_average == Decimal("100") and short.ltp == Decimal("90")


def test_an_open_position_without_a_price_is_unpriced_not_zero():
    service, store, _, quotes = reports()
    store.add_position(position("SHORT", sell_quantity=65, sell_value="6500", net_quantity=-65))
    report = service.pnl(UID, DAY)
    assert report.unpriced == ["SHORT"] and report.unrealised == Decimal(0)
    assert report.positions[0].unrealised is None and KEY in quotes.asked


def test_an_expired_contract_is_not_priced():
    service, store, _, quotes = reports()
    expired = {**CONTRACT, "expiry": "2026-11-24"}
    store.add_position(position("OLD", contract=expired, sell_quantity=65, sell_value="6500",
                                net_quantity=-65))  # fmt: skip
    quotes.premiums[ContractKey(Underlying.NIFTY, date(2026, 11, 24), Decimal("26000"),
                                OptionType.CE)] = Decimal("1")  # fmt: skip
    assert service.pnl(UID, DAY).unpriced == ["OLD"] and quotes.asked == []


def test_only_positions_that_changed_that_day_count():
    service, store, _, _ = reports()
    store.add_position(position("YESTERDAY", updated_at="2026-11-24T15:00:00+05:30",
                                buy_quantity=1, buy_value="10", sell_quantity=1, sell_value="20"))  # fmt: skip
    report = service.pnl(UID, DAY)
    assert report.positions == [] and report.total == 0
    assert service.pnl(UID, "2026-11-24").realised == Decimal("10.00")


def test_totals_add_the_figures_shown_per_position():
    """Each position's P&L is shown in paise; the totals are the sum of what is shown."""
    service, store, _, _ = reports()
    for symbol in ("A", "B"):
        store.add_position(position(symbol, buy_quantity=1, buy_value="100", sell_quantity=1,
                                    sell_value="100.005"))  # fmt: skip
    report = service.pnl(UID, DAY)
    assert [p.realised for p in report.positions] == [Decimal("0.00"), Decimal("0.00")]
    assert report.realised == Decimal("0.00")  # not 0.01 from the unrounded 0.010


def test_positions_are_not_priced_and_filter_by_strategy():
    service, store, _, quotes = reports()
    store.add_position(position("SHORT", sell_quantity=65, sell_value="6500", net_quantity=-65))
    store.add_position(replace(position("OTHER"), sk="POS#s2#A1#OTHER", strategy_id="s2"))
    (only,) = service.positions(UID, "s1")
    assert only.position.symbol == "SHORT" and only.unrealised is None and quotes.asked == []
    assert len(service.positions(UID)) == 2 and service.positions("u2") == []


def _order(order_id: str, scheduled: str, sent: str | None, status: str = "COMPLETE") -> Order:
    return Order(
        sk=f"ORDER#{DAY}#{order_id}", uid=UID, order_id=order_id, execution=f"EXEC#{DAY}#s1#ENTRY",
        strategy_id="s1", phase="ENTRY", account_id="A1", broker="zerodha", tag=order_id,
        request={}, status=status, scheduled_at=scheduled, sent_at=sent,
    )  # fmt: skip


def _execution(phase: str) -> Execution:
    return Execution(
        sk=f"EXEC#{DAY}#s1#{phase}", uid=UID, strategy_id="s1", phase=phase, trade_date=DAY,
        slot="09:20", status="COMPLETE", owner="test",
    )  # fmt: skip


def test_an_execution_shows_its_orders_in_send_order_and_an_entry_its_risk_book():
    service, store, books, _ = reports()
    store.add_execution(_execution("ENTRY"))
    store.add_execution(_execution("EXIT"))
    store.add_order(_order("b", "09:20:00", "09:20:00.2"))
    store.add_order(_order("a", "09:20:00", "09:20:00.3"))
    store.add_order(_order("c", "09:19:59", None))
    books.record(UID, f"EXEC#{DAY}#s1#ENTRY", {"kind": "filled"})
    entry = service.execution(UID, f"EXEC#{DAY}#s1#ENTRY")
    assert [o.order_id for o in entry.orders] == ["c", "b", "a"]
    assert entry.events == [{"kind": "filled"}]
    assert entry.has_risk and entry.risk_book is None  # not armed yet
    books.add(RiskBook(sk=f"RISK#{DAY}#s1", uid=UID, strategy_id="s1", trade_date=DAY,
                       execution=f"EXEC#{DAY}#s1#ENTRY", status="LIVE", exit_time="15:15",
                       rules={}, guards={}))  # fmt: skip
    assert service.execution(UID, f"EXEC#{DAY}#s1#ENTRY").risk_book is not None
    exit_ = service.execution(UID, f"EXEC#{DAY}#s1#EXIT")
    assert not exit_.has_risk and exit_.orders == []
    with pytest.raises(NotFound):
        service.execution("u2", f"EXEC#{DAY}#s1#ENTRY")


def test_the_risk_report_keeps_only_risk_events():
    service, store, books, _ = reports()
    store.add_execution(_execution("ENTRY"))
    books.add(RiskBook(sk=f"RISK#{DAY}#s1", uid=UID, strategy_id="s1", trade_date=DAY,
                       execution=f"EXEC#{DAY}#s1#ENTRY", status="LIVE", exit_time="15:15",
                       rules={}, guards={}))  # fmt: skip
    books.record(UID, f"EXEC#{DAY}#s1#ENTRY", {"kind": "filled"}, {"kind": "stop_loss"})
    (risk,) = service.risk(UID, DAY)
    assert risk.events == [{"kind": "stop_loss"}]
    assert risk.execution_sk == f"EXEC#{DAY}#s1#ENTRY"
    assert service.risk(UID, "2026-11-24") == []


def test_orders_of_a_day_by_status():
    service, store, _, _ = reports()
    store.add_order(_order("a", "09:20", None, status="COMPLETE"))
    store.add_order(_order("b", "09:20", None, status="REJECTED"))
    assert [o.order_id for o in service.orders(UID, DAY, "REJECTED")] == ["b"]
    assert len(service.orders(UID, DAY)) == 2 and service.orders(UID, "2026-11-24") == []
    assert service.today() == DAY
