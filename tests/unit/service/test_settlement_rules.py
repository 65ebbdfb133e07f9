"""Pure rules of settlement, closing and the kill switch: no I/O."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from chalicelib.adapters.dynamo.kill_switch_items import KillSwitchItem
from chalicelib.adapters.dynamo.models import OrderItem
from chalicelib.api.executions import execution_id, execution_sk
from chalicelib.domain.instrument import ContractKey
from chalicelib.domain.kill_switch import blocking_reason
from chalicelib.domain.market_model import MarketModel
from chalicelib.domain.underlying import OptionType, Underlying
from chalicelib.services.closing import Holding, canonical_symbol, closing_orders, unique_tag
from chalicelib.services.settlement_rules import entry_holdings, leg_failed_after_fill, outcome

KEY = ContractKey(Underlying.NIFTY, date(2026, 12, 1), Decimal("26000.00"), OptionType.CE)
WING = ContractKey(Underlying.NIFTY, date(2026, 12, 1), Decimal("26500"), OptionType.CE)


def _order(side: str, quantity: int, status: str, filled: int, account: str = "A1") -> OrderItem:
    request = {
        "account_id": account, "broker": "zerodha", "leg": 0, "slice": 0, "side": side,
        "underlying": "NIFTY", "expiry": "2026-12-01", "strike": "26000", "option_type": "CE",
        "exchange": "NFO", "lot_size": 65, "tick_size": "0.05", "quantity": quantity,
        "limit_price": "100", "product": "MIS", "tag": "T1",
    }  # fmt: skip
    return OrderItem(
        "USER#u", "ORDER#x", uid="u", order_id="x", execution="EXEC#", strategy_id="s",
        phase="ENTRY", account_id=account, broker="zerodha", tag="T1", request=request,
        status=status, filled_quantity=filled, scheduled_at="",
    )  # fmt: skip


def _holding(key: ContractKey, net: int, account: str = "A1") -> Holding:
    return Holding(account, "zerodha", key, "NFO", 65, Decimal("0.05"), "MIS", net)


def test_canonical_symbol_is_broker_independent():
    assert canonical_symbol(KEY) == "NIFTY-2026-12-01-26000-CE"


def test_unique_tags_are_short_alphanumeric_and_distinct():
    tags = {unique_tag("0123456789abcdef", "UNWIND", n) for n in range(300)}
    assert len(tags) == 300
    assert all(t.isalnum() and len(t) <= 20 and t[10] == "U" for t in tags)


def test_outcomes():
    assert outcome([_order("BUY", 65, "COMPLETE", 65)]) == "COMPLETE"
    assert outcome([_order("BUY", 65, "REJECTED", 0)]) == "FAILED"
    assert (
        outcome([_order("BUY", 65, "COMPLETE", 65), _order("SELL", 65, "REJECTED", 0)]) == "PARTIAL"
    )


def test_a_leg_failure_counts_only_after_a_fill():
    assert not leg_failed_after_fill([_order("BUY", 65, "REJECTED", 0)])
    assert leg_failed_after_fill(
        [_order("BUY", 65, "COMPLETE", 65), _order("SELL", 65, "REJECTED", 0)]
    )
    assert leg_failed_after_fill([_order("BUY", 130, "CANCELLED", 65)])
    assert not leg_failed_after_fill([_order("BUY", 65, "COMPLETE", 65)])


def test_entry_holdings_net_fills_per_account_and_contract():
    held = entry_holdings(
        [
            _order("SELL", 130, "COMPLETE", 130),
            _order("BUY", 65, "COMPLETE", 65),
            _order("SELL", 65, "REJECTED", 0, account="A2"),
        ]
    )
    assert [(h.account_id, h.net_quantity) for h in held] == [("A1", -65)]


def test_closing_orders_buy_back_shorts_first_and_slice_at_the_freeze_limit():
    holdings = [_holding(WING, 65), _holding(KEY, -65 * 30), _holding(KEY, 0, "A2")]
    prices = {("A1", KEY): Decimal("100"), ("A1", WING): Decimal("20")}
    orders, errors = closing_orders(
        "strat", holdings, prices, MarketModel(), phase="XIT", on=date(2026, 11, 24)
    )
    assert errors == []
    assert [o.side for o in orders] == ["BUY", "BUY", "SELL"]
    assert sum(o.quantity for o in orders if o.side == "BUY") == 65 * 30
    assert all(o.quantity % 65 == 0 and o.quantity <= 1800 for o in orders)
    assert orders[0].limit_price > Decimal("100") > orders[-1].limit_price * 5


def test_closing_without_a_price_is_reported_not_guessed():
    orders, errors = closing_orders(
        "strat", [_holding(KEY, -65)], {}, MarketModel(), phase="XIT", on=date(2026, 11, 24)
    )
    assert orders == [] and errors[0]["code"] == "no_price"


def _kill(scope: str, target: str) -> KillSwitchItem:
    return KillSwitchItem(
        *KillSwitchItem.key("u", scope, target), uid="u", scope=scope, target=target,
        reason="r", engaged_by="me", engaged_at="2026-11-24T10:00:00+05:30",
    )  # fmt: skip


def test_blocking_reason_by_scope():
    assert blocking_reason([], "s1", "a1") is None
    assert "all trading" in blocking_reason([_kill("all", "ALL")], "s1", "a1")
    assert blocking_reason([_kill("account", "a2")], "s1", "a1") is None
    assert "account a1" in blocking_reason([_kill("account", "a1")], "s1", "a1")
    assert "strategy s1" in blocking_reason([_kill("strategy", "s1")], "s1", None)


def test_execution_ids_round_trip():
    sk = "EXEC#2026-11-24#abc#ENTRY"
    assert execution_sk(execution_id(sk)) == sk
