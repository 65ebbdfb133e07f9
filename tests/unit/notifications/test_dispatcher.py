"""Delivery: once per event, one message per chat per second with bursts merged, 429 and
backoff honoured, failures recorded; through the in-process queue driven by hand."""

from __future__ import annotations

from datetime import datetime

import pytest

from chalicelib.adapters.telegram import (
    TelegramChatUnavailable,
    TelegramRateLimited,
    TelegramUnavailable,
)
from chalicelib.domain.calendar import IST
from chalicelib.domain.notifications import EventKind, NotificationEvent, Preferences
from chalicelib.services.notifications.dispatcher import Dispatcher
from chalicelib.services.notifications.queue import InProcessQueue
from tests.unit.notifications.fakes import MemoryStore, ScriptedBot, Ticker

AT = datetime(2026, 11, 25, 9, 20, tzinfo=IST)


def ev(key: str, kind: EventKind = EventKind.TARGET_HIT, uid: str = "u1") -> NotificationEvent:
    return NotificationEvent(uid, kind, key, AT, {"strategy": f"S-{key}"})


@pytest.fixture
def rig():
    store, bot, ticker = MemoryStore(), ScriptedBot(), Ticker()
    store.link_chat("u1", "501")
    dispatcher = Dispatcher(store, bot, monotonic=ticker, max_attempts=3)
    queue = InProcessQueue(dispatcher, start_worker=False)
    return store, bot, ticker, queue


def test_one_message_per_event_even_when_recorded_twice(rig):
    store, bot, ticker, queue = rig
    queue.publish(ev("k1"))
    queue.process()
    ticker.advance(5)
    queue.publish(ev("k1"))  # the same fact again (a retried step)
    queue.process()
    assert len(bot.sent) == 1
    assert len(store.recent("u1")) == 1
    assert store.delivery("u1", "k1") == "SENT"


def test_a_burst_becomes_one_message_and_the_chat_waits_a_second(rig):
    _store, bot, ticker, queue = rig
    for key in ("a", "b", "c"):
        queue.publish(ev(key))
    assert queue.process() == 1
    assert bot.sent[0][1].startswith("3 updates\n\nTarget hit\nStrategy: S-a")
    queue.publish(ev("d"))
    assert queue.process() == 0  # within the second
    ticker.advance(0.5)
    assert queue.process() == 0
    ticker.advance(0.5)
    assert queue.process() == 1
    assert bot.sent[1][1].startswith("Target hit\nStrategy: S-d")


def test_chats_are_paced_independently(rig):
    store, bot, _ticker, queue = rig
    store.link_chat("u2", "777")
    queue.publish(ev("a"))
    queue.publish(ev("b", uid="u2"))
    assert queue.process() == 2
    assert {chat for chat, _ in bot.sent} == {"501", "777"}


def test_429_waits_retry_after_then_sends_once(rig):
    store, bot, ticker, queue = rig
    bot.script = [TelegramRateLimited("sendMessage: 429", retry_after=7)]
    queue.publish(ev("a"))
    assert queue.process() == 0
    ticker.advance(6.9)
    queue.publish(ev("b"))
    assert queue.process() == 0  # still waiting: both queued for the chat
    ticker.advance(0.1)
    assert queue.process() == 1
    assert len(bot.sent) == 1 and bot.sent[0][1].startswith("2 updates")
    assert store.delivery("u1", "a") == store.delivery("u1", "b") == "SENT"


def test_transient_failures_back_off_then_give_up_and_say_so(rig):
    store, bot, ticker, queue = rig
    bot.script = [TelegramUnavailable("sendMessage: 502")] * 3
    queue.publish(ev("a"))
    queue.process()  # attempt 1 fails: wait 1 s
    ticker.advance(0.9)
    queue.process()
    assert len(bot.script) == 2  # not retried before the backoff
    ticker.advance(0.1)
    queue.process()  # attempt 2 fails: wait 2 s
    ticker.advance(2)
    queue.process()  # attempt 3 fails: give up
    assert store.delivery("u1", "a").startswith("FAILED: sendMessage: 502")
    assert queue.dispatcher.pending() == 0
    ticker.advance(60)
    queue.process()
    assert bot.sent == []


def test_a_transient_failure_then_success(rig):
    store, bot, ticker, queue = rig
    bot.script = [TelegramUnavailable("sendMessage: timeout")]
    queue.publish(ev("a"))
    queue.process()
    ticker.advance(1)
    queue.process()
    assert len(bot.sent) == 1 and store.delivery("u1", "a") == "SENT"


def test_a_blocked_chat_is_not_retried(rig):
    store, bot, _ticker, queue = rig
    bot.script = [TelegramChatUnavailable("sendMessage: 403 Forbidden", code=403)]
    queue.publish(ev("a"))
    queue.process()
    assert store.delivery("u1", "a") == "FAILED: sendMessage: 403 Forbidden"
    assert queue.dispatcher.pending() == 0


def test_preferences_keep_a_kind_in_app_but_urgent_kinds_still_go_out(rig):
    store, bot, _ticker, queue = rig
    store.save_preferences(
        "u1", Preferences.from_dict({"target_hit": ["in_app"], "stop_not_placed": ["in_app"]})
    )
    queue.publish(ev("a"))
    queue.publish(ev("b", EventKind.STOP_NOT_PLACED))
    queue.process()
    assert len(store.recent("u1")) == 2
    assert len(bot.sent) == 1 and bot.sent[0][1].startswith("URGENT: Stop-loss NOT placed")


def test_no_linked_chat_is_recorded_as_skipped(rig):
    store, bot, _ticker, queue = rig
    queue.publish(ev("a", uid="u9"))
    queue.process()
    assert store.delivery("u9", "a") == "SKIPPED: no chat"
    assert bot.sent == []


def test_a_failing_producer_is_retried_then_dropped(rig):
    _store, bot, _ticker, queue = rig
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 2:
            raise RuntimeError("table unavailable")
        return [ev("a")]

    queue.put(flaky)
    queue.process()
    assert not queue.idle()
    queue.process()
    assert len(calls) == 2 and len(bot.sent) == 1
    queue.put(lambda: 1 / 0)
    for _ in range(4):
        queue.process()
    assert queue.idle()


def test_without_a_bot_only_the_in_app_record_is_written():
    store = MemoryStore()
    queue = InProcessQueue(Dispatcher(store, None, monotonic=Ticker()), start_worker=False)
    queue.publish(ev("a"))
    queue.process()
    assert [n["id"] for n in store.recent("u1")] == ["a"]
    assert store.delivery("u1", "a") is None and queue.idle()
