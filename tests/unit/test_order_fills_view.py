"""GET /orders and /executions/{id} show each fill as it reached the position (issue #10)."""

from __future__ import annotations

from chalicelib.adapters.dynamo.models import OrderItem
from chalicelib.api.executions import fills_view, order_view


def _order(**fields) -> OrderItem:
    return OrderItem("USER#u", "ORDER#2026-11-25#o1", uid="u", order_id="o1", **fields)


def test_each_applied_fill_with_its_id_quantity_average_and_time():
    order = _order(
        filled_quantity=130,
        average_price="101",
        fills=[
            {"id": "B1:65", "quantity": 65, "value": "6500", "at": "2026-11-25T09:20:01+05:30"},
            {"id": "B1:130", "quantity": 65, "value": "6630", "at": "2026-11-25T09:20:03+05:30"},
        ],
    )
    assert fills_view(order) == [
        {"id": "B1:65", "quantity": 65, "average_price": "100",
         "at": "2026-11-25T09:20:01+05:30"},
        {"id": "B1:130", "quantity": 65, "average_price": "102",
         "at": "2026-11-25T09:20:03+05:30"},
    ]  # fmt: skip


def test_an_order_settled_before_fills_were_recorded_shows_its_whole_fill():
    assert fills_view(_order(filled_quantity=65, average_price="100.05")) == [
        {"id": None, "quantity": 65, "average_price": "100.05", "at": None}
    ]
    assert fills_view(_order(filled_quantity=0)) == []


def test_an_orders_average_and_its_fills_share_one_spelling_whatever_the_broker_sent():
    """Kite reports 134.0, a fill's average is computed as 134: both read "134" (a client
    comparing them as strings saw a difference on a day the price was whole)."""
    order = _order(
        filled_quantity=65,
        average_price="134.0",
        request={"side": "SELL", "underlying": "NIFTY", "expiry": "2026-12-29", "strike": "24150",
                 "option_type": "CE", "quantity": 65, "limit_price": "133.5", "product": "NRML"},
        execution="EXEC#2026-11-25#s1#ENTRY",
        fills=[{"id": "B1:65", "quantity": 65, "value": "8710", "at": "2026-11-25T09:20:01+05:30"}],
    )  # fmt: skip
    view = order_view(order)
    assert view["average_price"] == "134" == view["fills"][0]["average_price"]
    assert order_view(_order(filled_quantity=65, average_price="167.80", request=order.request,
                             execution=order.execution))["average_price"] == "167.8"  # fmt: skip
    assert (
        fills_view(_order(filled_quantity=65, average_price="134.0"))[0]["average_price"] == "134"
    )
