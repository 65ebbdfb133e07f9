"""The fake Telegram Bot API over loopback, driven by our adapter: the real dialect, its errors
(401, 400, 403, 409, 429 with retry_after), linking by getUpdates or webhook, and the dispatcher
against it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest

from chalicelib.adapters.telegram import (
    TelegramBot,
    TelegramChatUnavailable,
    TelegramRateLimited,
    TelegramUnauthorized,
)
from chalicelib.domain.calendar import IST
from chalicelib.domain.notifications import EventKind, NotificationEvent
from chalicelib.services.notifications.dispatcher import Dispatcher
from chalicelib.services.notifications.linking import LINKED, TelegramLinking
from chalicelib.services.notifications.queue import InProcessQueue
from sim.telegram import FakeTelegram
from tests.unit.notifications.fakes import MemoryStore, Ticker

TOKEN = "123456:TEST-token"
AT = datetime(2026, 11, 25, 9, 20, tzinfo=IST)


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    ticker = Ticker()
    server = FakeTelegram(TOKEN, per_chat_interval=1.0, monotonic=ticker).start()
    server.ticker = ticker  # type: ignore[attr-defined]
    yield server
    server.stop()


@pytest.fixture
def bot(fake: FakeTelegram) -> Iterator[TelegramBot]:
    with httpx.Client() as client:
        yield TelegramBot(fake.base_url, TOKEN, fake.username, client=client)


def test_send_message_in_the_real_shape_by_post_and_get(fake, bot):
    fake.user_sends(501, "hi")
    sent = bot.send_message(501, "Entry done")
    assert sent["chat"]["id"] == 501 and sent["text"] == "Entry done"
    assert sent["from"]["is_bot"] is True
    fake.ticker.advance(1)
    answer = httpx.get(f"{fake.base_url}/bot{TOKEN}/sendMessage", params={"chat_id": 501,
                                                                          "text": "by GET"})  # fmt: skip
    assert answer.json()["ok"] is True
    assert [m["text"] for m in fake.messages(501)] == ["Entry done", "by GET"]


def test_error_bodies(fake, bot):
    wrong = httpx.post(f"{fake.base_url}/bot999:nope/sendMessage", json={"chat_id": 1, "text": "x"})
    assert wrong.status_code == 401
    assert wrong.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    with pytest.raises(TelegramUnauthorized):
        TelegramBot(fake.base_url, "999:nope", "b").send_message(1, "x")
    with pytest.raises(TelegramChatUnavailable, match="chat not found"):
        bot.send_message(404, "x")
    fake.user_sends(502, "hi")
    fake.block(502)
    with pytest.raises(TelegramChatUnavailable, match="blocked"):
        bot.send_message(502, "x")


def test_429_carries_retry_after_and_the_per_chat_limit_is_enforced(fake, bot):
    fake.user_sends(501, "hi")
    fake.fail_next(1, retry_after=5)
    raw = httpx.post(f"{fake.base_url}/bot{TOKEN}/sendMessage", json={"chat_id": 501, "text": "a"})
    assert raw.status_code == 429
    assert raw.json() == {
        "ok": False, "error_code": 429, "description": "Too Many Requests: retry after 5",
        "parameters": {"retry_after": 5},
    }  # fmt: skip
    bot.send_message(501, "first")
    with pytest.raises(TelegramRateLimited) as limited:
        bot.send_message(501, "too soon")
    assert limited.value.retry_after == 1
    fake.ticker.advance(1)
    bot.send_message(501, "next second")
    assert [m["text"] for m in fake.messages(501)] == ["first", "next second"]


def test_the_token_never_reaches_the_logs(fake, bot, caplog):
    fake.user_sends(501, "hi")
    with caplog.at_level(logging.DEBUG):
        bot.send_message(501, "x")
        with pytest.raises(TelegramChatUnavailable) as error:
            bot.send_message(404, "x")
    assert "TEST-token" not in caplog.text
    assert "/bot<redacted>/sendMessage" in caplog.text
    assert "TEST-token" not in str(error.value) + repr(bot)


def test_linking_through_get_updates(fake, bot):
    store = MemoryStore()
    linking = TelegramLinking(store, bot, lambda: AT, new_code=lambda: "Zx9_code-1")
    url = linking.link_url("u1")["url"]
    assert url == "https://t.me/optexec_test_bot?start=Zx9_code-1"
    fake.user_sends(501, "/start Zx9_code-1")
    assert linking.poll() == 1
    assert store.chats == {"u1": "501"}
    assert fake.messages(501)[-1]["text"] == LINKED
    assert linking.poll() == 0  # the offset confirmed the update


def test_get_updates_is_refused_while_a_webhook_is_set_and_updates_go_to_it(fake, bot):
    received = []
    hook = FakeWebhook(received).start()
    try:
        assert bot.set_webhook(hook.url, "s3cret")
        with pytest.raises(Exception, match="409 Conflict"):
            bot.get_updates()
        fake.user_sends(501, "/start abc")
        assert received == [("s3cret", "/start abc")]
    finally:
        hook.stop()


def test_dispatcher_against_the_fake_coalesces_and_honours_429(fake, bot):
    store, ticker = MemoryStore(), Ticker()
    store.link_chat("u1", "501")
    fake.user_sends(501, "hi")
    queue = InProcessQueue(Dispatcher(store, bot, monotonic=ticker), start_worker=False)
    fake.fail_next(1, retry_after=3)
    for key in ("a", "b", "c"):
        queue.publish(NotificationEvent("u1", EventKind.STOP_TRAILED, key, AT, {"stop_to": key}))
    assert queue.process() == 0  # 429
    ticker.advance(3)
    fake.ticker.advance(3)
    assert queue.process() == 1
    texts = [m["text"] for m in fake.messages(501)]
    assert len(texts) == 1 and texts[0].startswith("3 updates")
    assert all(store.delivery("u1", k) == "SENT" for k in "abc")


class FakeWebhook:
    """Our side of a webhook, minimal: records the secret header and the message text."""

    def __init__(self, received: list) -> None:
        from werkzeug.serving import make_server
        from werkzeug.wrappers import Request, Response

        def app(environ, start_response):
            request = Request(environ)
            update = request.get_json()
            received.append(
                (request.headers.get("X-Telegram-Bot-Api-Secret-Token"), update["message"]["text"])
            )
            return Response("{}", mimetype="application/json")(environ, start_response)

        self._server = make_server("127.0.0.1", 0, app, threaded=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/notifications/telegram/webhook"

    def start(self) -> FakeWebhook:
        import threading

        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def test_admin_routes_play_a_user_and_list_what_the_bot_sent(fake, bot):
    played = httpx.post(f"{fake.base_url}/_sim/updates", json={"chat_id": 601, "text": "/start x"})
    assert played.json()["message"]["text"] == "/start x"
    assert played.json()["message"]["entities"] == [
        {"offset": 0, "length": 6, "type": "bot_command"}
    ]
    bot.send_message(601, "hello")
    listed = httpx.get(f"{fake.base_url}/_sim/messages", params={"chat_id": 601}).json()
    assert [m["text"] for m in listed] == ["hello"]
    assert [u["message"]["text"] for u in bot.get_updates()] == ["/start x"]
