"""The risk engine's entry check: the kill switch first, then the account's day limit."""

from chalicelib.services.entry_blocks import EntryBlocks


def test_the_kill_switch_names_the_block_before_the_day_limit():
    asked: list[tuple] = []

    def day_limit(uid, account_id):
        asked.append((uid, account_id))
        return "the day's loss limit was reached"

    engaged = EntryBlocks(lambda uid, s, a: "kill switch ALL", day_limit)
    assert engaged("u", "S1", "A1") == "kill switch ALL" and asked == []
    free = EntryBlocks(lambda uid, s, a: None, day_limit)
    assert free("u", "S1", "A1") == "the day's loss limit was reached" and asked == [("u", "A1")]


def test_without_an_account_only_the_kill_switch_is_asked():
    blocks = EntryBlocks(lambda uid, s, a: None, lambda uid, a: "never asked")
    assert blocks("u", "S1", None) is None
