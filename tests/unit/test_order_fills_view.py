"""GET /orders and /executions/{id} show each fill as it reached the position (issue #10)."""

from __future__ import annotations

from chalicelib.adapters.dynamo.models import OrderItem
from chalicelib.api.executions import fills_view


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
