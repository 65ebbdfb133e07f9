"""The issue's done-when path through plain HTTP: sign up, log in, basket, 4-leg strategy with
leg-level allocations, visible in its GSI2 slot, invisible to another user."""

from __future__ import annotations

from tests.factories import four_leg_strategy


def test_four_leg_strategy_lands_in_its_gsi2_slot(setup, other_user):
    api = setup["api"]
    created = api.call(
        "POST", "/strategies", four_leg_strategy(setup["basket"], setup["a1"], setup["a2"])
    )
    assert created.status_code == 201, created.body
    strategy = created.data
    assert strategy["version"] == 1
    assert strategy["legs"][1]["allocations"] == [{"account_id": setup["a1"], "multiplier": "1"}]

    slot = api.call("GET", "/schedule/slots/TUE/0920")
    assert slot.status_code == 200
    mine = [i for i in slot.data["items"] if i["strategy_id"] == strategy["id"]]
    assert len(mine) == 1 and mine[0]["phase"] == "ENTRY" and mine[0]["time"] == "09:20:00"
    # leg-level allocation: the BUY CE hedge (leg 1) only on A1; A2 trades legs 0, 2, 3 at x2
    accounts = mine[0]["accounts"]
    assert [leg["leg"] for leg in accounts[setup["a1"]]] == [0, 1, 2, 3]
    assert [leg["leg"] for leg in accounts[setup["a2"]]] == [0, 2, 3]
    assert {leg["multiplier"] for leg in accounts[setup["a2"]]} == {"2"}

    exits = api.call("GET", "/schedule/slots/TUE/1515").data["items"]
    assert [i["phase"] for i in exits if i["strategy_id"] == strategy["id"]] == ["EXIT"]

    assert other_user.call("GET", f"/strategies/{strategy['id']}").status_code == 404
    theirs = other_user.call("GET", "/schedule/slots/TUE/0920").data["items"]
    assert all(i["strategy_id"] != strategy["id"] for i in theirs)
