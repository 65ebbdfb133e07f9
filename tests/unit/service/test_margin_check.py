"""The margin check before an entry, with in-memory brokers: accounts that cannot pay are left out
with the figures, a broker that cannot answer lets the entry go unchecked with an alert (fail
open), and a strategy can turn the check off."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from chalicelib.domain.calendar import IST
from chalicelib.domain.instrument import ContractKey
from chalicelib.domain.market_model import MarketModel
from chalicelib.domain.notifications import EventKind, NotificationEvent
from chalicelib.domain.underlying import OptionType, Underlying
from chalicelib.ports.broker import OrderRequest
from chalicelib.ports.broker_errors import Unavailable
from chalicelib.services.margin_check import MarginCheck
from chalicelib.services.order_builder import ChildOrder

NOW = datetime(2026, 11, 25, 9, 19, 40, tzinfo=IST)
KEY = ContractKey(Underlying.NIFTY, date(2026, 12, 1), Decimal(24000), OptionType.CE)


class Broker:
    """An account's broker as the check sees it: a basket figure and the funds, or a failure."""

    def __init__(self, required: str, available: str, fail: Exception | None = None) -> None:
        self.required, self.available, self.fail = Decimal(required), Decimal(available), fail
        self.asked: list[Sequence[OrderRequest]] = []

    def basket_margin(self, requests: Sequence[OrderRequest]) -> Decimal:
        self.asked.append(requests)
        if self.fail is not None:
            raise self.fail
        return self.required

    def funds(self) -> Decimal:
        return self.available


def _child(account: str, side: str, leg: int) -> ChildOrder:
    return ChildOrder(
        account_id=account, broker="zerodha", leg=leg, slice_no=0, side=side, key=KEY,
        exchange="NFO", lot_size=65, tick_size=Decimal("0.05"), quantity=65,
        limit_price=Decimal("101.05"), product="MIS", tag=f"T{account}{leg}",
    )  # fmt: skip


def _check(brokers: dict[str, Broker]) -> tuple[MarginCheck, list[Any], list[Any]]:
    told: list[NotificationEvent] = []
    alerts: list[tuple[str, dict[str, Any]]] = []
    check = MarginCheck(
        lambda uid, account: brokers[account], MarketModel(), lambda: NOW,
        told.append, lambda subject, details: alerts.append((subject, details)),
    )  # fmt: skip
    return check, told, alerts


def test_an_account_short_of_margin_is_left_out_and_the_others_go():
    brokers = {"rich": Broker("80000", "100000"), "poor": Broker("80000", "50000.5")}
    check, told, alerts = _check(brokers)
    orders = [_child(a, s, i) for a in ("rich", "poor") for i, s in enumerate(("BUY", "SELL"))]
    kept, errors = check("u1", "s1", {"margin_check": True}, orders)
    assert [o.account_id for o in kept] == ["rich", "rich"]
    assert errors == [
        {
            "account_id": "poor", "code": "insufficient_margin",
            "message": "not enough margin: the entry needs Rs 80000.00, the account has "
            "Rs 50000.50 available (short by Rs 29999.50)",
            "required": "80000.00", "available": "50000.50", "shortfall": "29999.50",
            "reserved": "0.00",
        }
    ]  # fmt: skip
    assert [len(b.asked[0]) for b in brokers.values()] == [2, 2]  # one basket per account
    assert [(e.kind, e.urgent) for e in told] == [(EventKind.MARGIN_INSUFFICIENT, True)]
    assert alerts == []


def test_a_failing_margin_endpoint_fails_open_with_an_alert():
    failing = Broker("0", "0", Unavailable("gateway timeout", broker="zerodha"))
    check, told, alerts = _check({"a": failing})
    orders = [_child("a", "SELL", 0)]
    kept, errors = check("u1", "s1", {}, orders)  # margin_check defaults to on
    assert kept == orders
    assert [e["code"] for e in errors] == ["margin_unchecked"]
    assert "gateway timeout" in errors[0]["message"]
    assert [e.kind for e in told] == [EventKind.MARGIN_UNCHECKED]
    assert alerts and alerts[0][1]["account"] == "a"


def test_the_check_can_be_turned_off():
    broker = Broker("1", "0")
    check, told, _ = _check({"a": broker})
    orders = [_child("a", "SELL", 0)]
    assert check("u1", "s1", {"margin_check": False}, orders) == (orders, [])
    assert broker.asked == [] and told == []


def test_a_broker_that_does_not_answer_in_time_is_unchecked_not_waited_for():
    import threading

    release = threading.Event()

    class Hung(Broker):
        def basket_margin(self, requests: Sequence[OrderRequest]) -> Decimal:
            release.wait(5)
            return Decimal(0)

    check, told, alerts = _check({"slow": Hung("0", "0"), "fast": Broker("10", "100")})
    check.deadline = 0.2
    orders = [_child("slow", "SELL", 0), _child("fast", "SELL", 0)]
    try:
        kept, errors = check("u1", "s1", {}, orders)
    finally:
        release.set()
    assert [o.account_id for o in kept] == ["fast", "slow"]
    assert [(e["account_id"], e["code"]) for e in errors] == [("slow", "margin_unchecked")]
    assert "no answer within 0.2 s" in errors[0]["message"]
    assert len(alerts) == 1 and [e.kind for e in told] == [EventKind.MARGIN_UNCHECKED]


def test_an_adapter_without_a_margin_endpoint_is_recorded_not_alarmed():
    from chalicelib.adapters.brokers.error_table import margin_unsupported

    class Plain:  # an adapter with no margin calls at all (a future dialect, a paper book)
        pass

    failing = Broker("0", "0", margin_unsupported("somebroker"))
    brokers: dict[str, Any] = {"plain": Plain(), "old": failing, "odd": Broker("0", "0")}
    brokers["odd"].fail = RuntimeError("a bug in a dialect")
    check, told, alerts = _check(brokers)
    orders = [_child(a, "SELL", 0) for a in ("plain", "old", "odd")]
    kept, errors = check("u1", "s1", {}, orders)
    assert sorted(o.account_id for o in kept) == ["odd", "old", "plain"]  # never lost to it
    assert {e["account_id"]: e["code"] for e in errors} == {
        "plain": "margin_unchecked", "old": "margin_unchecked", "odd": "margin_unchecked",
    }  # fmt: skip
    assert [a[1]["account"] for a in alerts] == ["odd"]  # only the failure is alarmed
    assert [e.kind for e in told] == [EventKind.MARGIN_UNCHECKED]


def test_entries_of_one_slot_share_the_accounts_funds():
    check, told, _ = _check({"a": Broker("60000", "100000")})
    slot = NOW.replace(second=0) + timedelta(minutes=1)
    first = check("u1", "s1", {}, [_child("a", "SELL", 0)], slot)
    second = check("u1", "s2", {}, [_child("a", "SELL", 0)], slot)
    later = check("u1", "s3", {}, [_child("a", "SELL", 0)], slot + timedelta(minutes=5))
    assert first[1] == [] and len(first[0]) == 1
    assert second[0] == []
    [error] = second[1]
    assert (error["available"], error["reserved"], error["shortfall"]) == (
        "40000.00",
        "60000.00",
        "20000.00",
    )
    assert "taken by this slot's earlier entries" in error["message"]
    assert later[1] == [] and len(later[0]) == 1  # another slot: the broker's funds again
    assert [e.kind for e in told] == [EventKind.MARGIN_INSUFFICIENT]
