"""Updates, optimistic locking, pause/resume, basket gating and deletion keep GSI2 exact."""

from __future__ import annotations

from tests.factories import four_leg_strategy


def _slot(api, day, hhmm, strategy_id):
    items = api.call("GET", f"/schedule/slots/{day}/{hhmm}").data["items"]
    return [i for i in items if i["strategy_id"] == strategy_id]


def _create(setup, **overrides):
    body = four_leg_strategy(setup["basket"], setup["a1"], setup["a2"], **overrides)
    response = setup["api"].call("POST", "/strategies", body)
    assert response.status_code == 201, response.body
    return response.data


def test_update_moves_the_schedule_and_checks_the_version(setup):
    api = setup["api"]
    strategy = _create(setup)
    sid = strategy["id"]
    body = four_leg_strategy(setup["basket"], setup["a1"], setup["a2"])
    body["entry"] = {"time": "10:05:30", "days": ["MON", "WED"]}
    body["version"] = 1
    updated = api.call("PUT", f"/strategies/{sid}", body)
    assert updated.status_code == 200, updated.body
    assert updated.data["version"] == 2
    assert _slot(api, "MON", "0920", sid) == []
    assert _slot(api, "TUE", "1005", sid) == []
    [entry] = _slot(api, "WED", "1005", sid)
    assert entry["time"] == "10:05:30"
    # exits follow the entry days by default: gone from TUE, present on MON
    assert _slot(api, "TUE", "1515", sid) == []
    assert len(_slot(api, "MON", "1515", sid)) == 1

    stale = api.call("PUT", f"/strategies/{sid}", body)  # version 1 again
    assert stale.status_code == 409
    assert stale.data["error"]["code"] == "version_conflict"


def test_patch_merges_and_revalidates(setup):
    api = setup["api"]
    sid = _create(setup)["id"]
    patched = api.call(
        "PATCH", f"/strategies/{sid}", {"name": "Renamed", "exit": {"time": "15:00:00"}}
    )
    assert patched.status_code == 200, patched.body
    assert patched.data["name"] == "Renamed"
    assert len(_slot(api, "FRI", "1500", sid)) == 1
    assert _slot(api, "FRI", "1515", sid) == []
    refused = api.call("PATCH", f"/strategies/{sid}", {"exit": {"time": "09:00:00"}})
    assert refused.status_code == 400
    assert refused.data["error"]["field"] == "exit.time"
    assert api.call("GET", f"/strategies/{sid}").data["exit"]["time"] == "15:00:00"


def test_pause_and_resume(setup):
    api = setup["api"]
    sid = _create(setup)["id"]
    paused = api.call("POST", f"/strategies/{sid}/pause", {})
    assert paused.status_code == 200 and paused.data["status"] == "PAUSED"
    assert _slot(api, "THU", "0920", sid) == []
    # the exit stays: a position entered before the pause is still closed at the exit time
    assert len(_slot(api, "THU", "1515", sid)) == 1
    resumed = api.call("POST", f"/strategies/{sid}/resume", {"version": paused.data["version"]})
    assert resumed.status_code == 200 and resumed.data["status"] == "ACTIVE"
    assert len(_slot(api, "THU", "0920", sid)) == 1


def test_disabling_a_basket_unschedules_all_its_strategies(setup):
    api = setup["api"]
    first, second = _create(setup)["id"], _create(setup, name="Second")["id"]
    disabled = api.call("PATCH", f"/baskets/{setup['basket']}", {"enabled": False})
    assert disabled.status_code == 200 and disabled.data["enabled"] is False
    for sid in (first, second):
        assert _slot(api, "MON", "0920", sid) == []
        assert len(_slot(api, "MON", "1515", sid)) == 1  # what was entered is still exited
        assert api.call("GET", f"/strategies/{sid}").data["status"] == "ACTIVE"
    # a strategy created in a disabled basket is stored but not scheduled
    third = _create(setup, name="Third")["id"]
    assert _slot(api, "MON", "0920", third) == []
    api.call("PATCH", f"/baskets/{setup['basket']}", {"enabled": True})
    for sid in (first, second, third):
        assert len(_slot(api, "MON", "0920", sid)) == 1


def test_delete_removes_strategy_and_schedule(setup):
    api = setup["api"]
    sid = _create(setup)["id"]
    assert api.call("DELETE", f"/strategies/{sid}").status_code == 204
    assert api.call("GET", f"/strategies/{sid}").status_code == 404
    assert _slot(api, "MON", "0920", sid) == []
    assert api.call("DELETE", f"/strategies/{sid}").status_code == 404


def test_basket_with_strategies_cannot_be_deleted(setup):
    api = setup["api"]
    sid = _create(setup)["id"]
    refused = api.call("DELETE", f"/baskets/{setup['basket']}")
    assert refused.status_code == 409
    assert refused.data["error"]["code"] == "basket_not_empty"
    api.call("DELETE", f"/strategies/{sid}")
    assert api.call("DELETE", f"/baskets/{setup['basket']}").status_code == 204


def test_strategies_listed_by_basket(setup):
    api = setup["api"]
    sid = _create(setup)["id"]
    other = api.call("POST", "/baskets", {"name": "Other"}).data["id"]
    assert [
        s["id"] for s in api.call("GET", f"/strategies?basket_id={setup['basket']}").data["items"]
    ] == [sid]
    assert api.call("GET", f"/strategies?basket_id={other}").data["items"] == []


def test_moving_a_strategy_to_a_disabled_basket_unschedules_it(setup):
    api = setup["api"]
    sid = _create(setup)["id"]
    parked = api.call("POST", "/baskets", {"name": "Parked", "enabled": False}).data["id"]
    moved = api.call("PATCH", f"/strategies/{sid}", {"basket_id": parked})
    assert moved.status_code == 200, moved.body
    assert _slot(api, "MON", "0920", sid) == []


def test_a_strategy_write_on_a_stale_basket_flag_fails(setup, container):
    """A strategy write is conditioned on the basket flag it read (its schedules follow it)."""
    import pytest

    from chalicelib.errors import ConcurrentChange

    api = setup["api"]
    sid = _create(setup)["id"]
    repo = container.repo
    item = next(s for s in repo.list_strategies(_uid(api)) if s.strategy_id == sid)
    stale_basket = repo.get_basket(item.uid, item.basket_id)
    api.call("PATCH", f"/baskets/{setup['basket']}", {"enabled": False})
    with pytest.raises(ConcurrentChange):
        repo.save_strategy(item, stale_basket, [], create=False, joins=False)


def _uid(api):
    return api.call("GET", "/me").data["id"]
