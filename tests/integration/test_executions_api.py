"""The execution and results API over real settled orders on the fake brokers: executions with
their orders' timings and histories, orders, positions, P&L with labelled prices, the kill switch;
and isolation (another user sees 404 or nothing)."""

from __future__ import annotations

import pytest

from chalicelib.api.executions import execution_id
from tests.integration.conftest import sign_up
from tests.integration.execution_rig import Rig, make_rig

pytestmark = pytest.mark.ambient_time  # reads and defaults to "today"


@pytest.fixture
def rig(client, fakes) -> Rig:
    return make_rig(client, fakes)


def _settled_entry(rig: Rig):
    short, wing = rig.contracts(2)
    execution = rig.execution()
    rig.send(execution, rig.child("zerodha", short, "SELL"))
    rig.server("zerodha").inject(rig.zerodha["client_id"], "rms_reject")
    rig.send(execution, rig.child("zerodha", wing, "BUY", leg=1))
    rig.settlement().settle(rig.uid, execution.sk, on_leg_failure="KEEP")
    return execution, short


def test_executions_orders_positions_and_pnl(rig: Rig):
    execution, short = _settled_entry(rig)
    api = rig.api
    day = execution.trade_date

    listed = api.call("GET", f"/executions?date={day}")
    assert listed.status_code == 200
    [mine] = [e for e in listed.data["items"] if e["strategy_id"] == rig.strategy_id]
    assert mine["id"] == execution_id(execution.sk) and mine["status"] == "PARTIAL"
    assert api.call("GET", "/executions").data["date"] == day  # default: today, IST

    detail = api.call("GET", f"/executions/{mine['id']}").data
    assert {o["status"] for o in detail["orders"]} == {"COMPLETE", "REJECTED"}
    for order in detail["orders"]:
        assert order["scheduled_at"] and order["sent_at"] and order["acked_at"]
        assert order["broker_order_id"] and order["history"][0]["status"] == "OPEN"
    [filled] = [o for o in detail["orders"] if o["status"] == "COMPLETE"]
    [fill] = filled["fills"]  # each fill as it reached the position
    assert fill["quantity"] == short.lot_size and fill["average_price"] == filled["average_price"]
    assert fill["id"] == f"{filled['broker_order_id']}:{short.lot_size}" and fill["at"]

    rejected = api.call("GET", f"/orders?date={day}&status=REJECTED").data["items"]
    assert [o["status"] for o in rejected] == ["REJECTED"]
    assert api.call("GET", "/orders?status=bogus").status_code == 400
    assert api.call("GET", "/orders?date=24-11-2026").status_code == 400

    positions = api.call("GET", f"/positions?strategy_id={rig.strategy_id}").data["items"]
    assert [(p["net_quantity"], p["realised"]) for p in positions] == [(-short.lot_size, "0.00")]
    assert api.call("GET", "/positions?strategy_id=other").data["items"] == []

    pnl = api.call("GET", f"/pnl?date={day}").data
    assert pnl["prices"]["source"] == rig.container.quotes.name
    assert pnl["prices"]["live"] is rig.container.quotes.live
    assert pnl["realised"] == "0.00" and isinstance(pnl["unrealised"], str)
    assert len(pnl["positions"]) == 1


def test_kill_switch_through_the_api(rig: Rig):
    _settled_entry(rig)
    api = rig.api

    engaged = api.call("POST", "/kill-switch", {"scope": "all", "reason": "test"})
    assert engaged.status_code == 202, engaged.body
    assert engaged.data["status"] == "FLAT" and engaged.data["joined"] is False
    assert engaged.data["engaged_by"] == rig.uid and engaged.data["engaged_at"]
    assert [s["status"] for s in engaged.data["summary"]["square_off"]] == ["COMPLETE"]
    assert [k["scope"] for k in api.call("GET", "/kill-switch").data["items"]] == ["all"]
    assert set(p["net_quantity"] for p in api.call("GET", "/positions").data["items"]) == {0}
    pnl = api.call("GET", "/pnl").data
    assert pnl["unpriced"] == [] and pnl["unrealised"] == "0.00"

    assert api.call("POST", "/kill-switch", {"scope": "strategy"}).status_code == 400
    assert api.call("POST", "/kill-switch", {"scope": "galaxy"}).status_code == 400
    assert api.call("DELETE", "/kill-switch/all").status_code == 204
    assert api.call("DELETE", "/kill-switch/all").status_code == 404
    assert api.call("GET", "/kill-switch").data["items"] == []
    scoped = api.call("POST", "/kill-switch", {"scope": "account", "id": rig.zerodha["id"]})
    assert scoped.status_code == 202 and scoped.data["id"] == rig.zerodha["id"]
    assert api.call("DELETE", f"/kill-switch/account/{rig.zerodha['id']}").status_code == 204


def test_another_user_sees_nothing(rig: Rig, client):
    execution, _ = _settled_entry(rig)
    other, _ = sign_up(client, "Ravi Iyer")
    eid = execution_id(execution.sk)

    assert other.call("GET", f"/executions/{eid}").status_code == 404
    assert other.call("GET", "/executions/not-base64!").status_code == 404
    assert other.call("GET", f"/executions?date={execution.trade_date}").data["items"] == []
    assert other.call("GET", f"/orders?date={execution.trade_date}").data["items"] == []
    assert other.call("GET", "/positions").data["items"] == []
    assert other.call("GET", "/pnl").data["positions"] == []
    refused = other.call("POST", "/kill-switch", {"scope": "account", "id": rig.zerodha["id"]})
    assert refused.status_code == 404
    assert other.call("DELETE", f"/kill-switch/account/{rig.zerodha['id']}").status_code == 404
    assert rig.api.call("GET", "/kill-switch").data["items"] == []
    assert client.http.get("/executions").status_code == 401
