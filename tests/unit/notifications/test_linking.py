"""Linking a chat with a one-time deep-link code, by getUpdates or the webhook's update."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from chalicelib.domain.calendar import IST
from chalicelib.errors import Unprocessable
from chalicelib.services.notifications.linking import EXPIRED, LINKED, TelegramLinking
from tests.unit.notifications.fakes import MemoryStore, ScriptedBot

START = datetime(2026, 11, 25, 8, 0, tzinfo=IST)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def update(update_id: int, chat: int, text: str) -> dict:
    return {"update_id": update_id, "message": {"chat": {"id": chat}, "text": text}}


@pytest.fixture
def rig():
    store, bot, clock = MemoryStore(), ScriptedBot(), Clock()
    codes = iter(["code-one", "code-two"])
    return store, bot, clock, TelegramLinking(store, bot, clock, new_code=lambda: next(codes))


def test_link_url_is_the_bots_deep_link_with_a_stored_expiring_code(rig):
    store, _bot, _clock, linking = rig
    answer = linking.link_url("u1")
    assert answer["url"] == "https://t.me/optexec_test_bot?start=code-one"
    assert store.codes["code-one"] == ("u1", START + timedelta(minutes=15))


def test_start_with_the_code_links_once(rig):
    store, bot, _clock, linking = rig
    linking.link_url("u1")
    assert linking.handle_update(update(1, 501, "/start code-one")) == "u1"
    assert store.chats == {"u1": "501"}
    assert bot.sent[-1] == ("501", LINKED)
    assert linking.handle_update(update(2, 999, "/start code-one")) is None  # used
    assert store.chats == {"u1": "501"} and bot.sent[-1] == ("999", EXPIRED)


def test_an_expired_code_does_not_link(rig):
    store, _bot, clock, linking = rig
    linking.link_url("u1")
    clock.now += timedelta(minutes=15)
    assert linking.handle_update(update(1, 501, "/start code-one")) is None
    assert store.chats == {}


@pytest.mark.parametrize("text", ["hello", "/start", "/help code-one", ""])
def test_other_messages_are_ignored(rig, text):
    store, _bot, _clock, linking = rig
    linking.link_url("u1")
    assert linking.handle_update(update(1, 501, text)) is None
    assert store.chats == {} and "code-one" in store.codes


def test_poll_handles_updates_and_confirms_them_with_the_next_offset(rig):
    store, bot, _clock, linking = rig
    linking.link_url("u1")
    bot.updates = [update(41, 7, "hi"), update(42, 501, "/start code-one")]
    assert linking.poll() == 2
    assert store.chats == {"u1": "501"} and store.offset == 43
    assert linking.poll() == 0 and bot.offsets == [None, 43]


def test_no_bot_configured_is_a_clear_error():
    linking = TelegramLinking(MemoryStore(), None, Clock())
    with pytest.raises(Unprocessable, match="not configured"):
        linking.link_url("u1")
    assert linking.poll() == 0
