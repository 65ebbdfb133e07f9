"""Reading everything due at a minute costs the same number of DynamoDB requests for 1, 100 or
1,000 strategies across many users: one Query per slot shard."""

from __future__ import annotations

import uuid

from chalicelib.adapters.dynamo.metrics import count_requests
from chalicelib.adapters.dynamo.models import ScheduleItem, StrategyItem
from chalicelib.adapters.dynamo.schedule_parts import due_in_part
from chalicelib.api.strategy_schemas import StrategyIn
from chalicelib.domain.plan_parts import all_parts
from chalicelib.domain.schedule import schedule_entries
from chalicelib.domain.strategy_documents import to_document
from tests.factories import four_leg_strategy


def _populate(container, strategies: int, users: int, hhmm_time: str) -> None:
    """Write schedule items as the strategy transaction would, in bulk (the subject is the read)."""
    repo = container.repo
    with ScheduleItem.batch_write() as batch:
        for n in range(strategies):
            uid = f"bench-user-{n % users}-{uuid.uuid4().hex[:6]}"
            body = four_leg_strategy("B", "A1", "A2")
            body["entry"] = {"time": hhmm_time, "days": ["WED"]}
            strategy = StrategyIn.model_validate(body).to_domain()
            sid = uuid.uuid4().hex[:16]
            item = StrategyItem(*StrategyItem.key(uid, sid), uid=uid, strategy_id=sid, basket_id="B",
                                spec=to_document(strategy))  # fmt: skip
            for entry in schedule_entries(sid, strategy):
                if entry.phase == "ENTRY":
                    batch.save(repo.schedule_item(item, entry))


def test_requests_per_tick_do_not_grow(container, capsys):
    repo = container.repo
    counts = {}
    for size, minute in ((1, "10:01:00"), (100, "10:02:00"), (1000, "10:03:00")):
        _populate(container, size, users=max(1, size // 3), hhmm_time=minute)
        hhmm = minute[:2] + minute[3:5]
        with count_requests() as requests:
            due = repo.due("WED", hhmm)
        assert len(due) == size
        assert all(len(item.payload["accounts"]) == 2 for item in due)
        counts[size] = sum(requests.values())
        assert set(requests) == {"Query"}
    assert counts[1] == counts[100] == counts[1000] == repo.schedule_shards
    with capsys.disabled():
        print(f"\nGSI2 due() DynamoDB requests per tick: {counts} (shards={repo.schedule_shards})")


def test_the_parts_of_a_slot_read_every_due_item_once(container):
    """Each plan part reads its users with a key condition: together the parts read exactly
    what the whole slot holds (hex uids as Cognito gives them, and odd ones), each user wholly
    in one part, for the same number of requests per part as the whole slot."""
    hex_users = [uuid.UUID(int=n * 0x0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F).hex for n in range(16)]
    odd_users = ["0", "4", "8", "c", "f", "user-1", "Zed", "~tilde"]
    _populate_users(container, [*hex_users, *odd_users], "10:04:00")
    whole = {(i.uid, i.strategy_id) for i in container.repo.due("WED", "1004")}
    assert len(whole) == 2 * len(hex_users + odd_users)
    for count in (2, 3, 4, 16):
        seen: list[tuple[str, str]] = []
        for part in all_parts(count):
            with count_requests() as requests:
                items = due_in_part(container.repo.schedule_shards, "WED", "1004", part)
            assert sum(requests.values()) == container.repo.schedule_shards
            assert all(part.holds(i.uid) for i in items)
            seen += [(i.uid, i.strategy_id) for i in items]
        assert sorted(seen) == sorted(whole), count  # every item once, none twice


def _populate_users(container, uids: list[str], hhmm_time: str) -> None:
    """Two strategies per user (likely in different shards), entering at ``hhmm_time``."""
    with ScheduleItem.batch_write() as batch:
        for uid in uids:
            for n in range(2):
                body = four_leg_strategy("B", "A1", "A2")
                body["entry"] = {"time": hhmm_time, "days": ["WED"]}
                strategy = StrategyIn.model_validate(body).to_domain()
                sid = f"s{n}{uuid.uuid4().hex[:12]}"
                item = StrategyItem(*StrategyItem.key(uid, sid), uid=uid, strategy_id=sid,
                                    basket_id="B", spec=to_document(strategy))  # fmt: skip
                for entry in schedule_entries(sid, strategy):
                    if entry.phase == "ENTRY":
                        batch.save(container.repo.schedule_item(item, entry))
