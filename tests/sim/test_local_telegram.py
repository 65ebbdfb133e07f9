"""`make run`'s fake Telegram: the sim process serves it beside the fake brokers, the platform's
environment points the bot at it, and the local clock links chats by polling getUpdates."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from chalicelib.adapters.telegram import TelegramBot
from chalicelib.jobs import telegram as telegram_job
from localdev.run import LOCAL_BOT_TOKEN, telegram_env

ROOT = Path(__file__).resolve().parents[2]


def test_the_sim_process_serves_the_bot_and_the_platform_is_pointed_at_it(tmp_path: Path):
    process = subprocess.Popen(
        [sys.executable, "-m", "sim.servers", "--dialects", "kite", "--state-dir", str(tmp_path),
         "--telegram", LOCAL_BOT_TOKEN],
        cwd=ROOT, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        hosts_file = tmp_path / "hosts.json"
        for _ in range(600):  # up to a minute on a loaded machine; not a timing assertion
            if hosts_file.exists() or process.poll() is not None:
                break
            time.sleep(0.1)
        hosts = json.loads(hosts_file.read_text())
        env = telegram_env(hosts)
        assert env["TELEGRAM_API_URL"].startswith("http://127.0.0.1:")
        assert env["TELEGRAM_BOT_TOKEN"] == LOCAL_BOT_TOKEN

        with httpx.Client() as client:
            bot = TelegramBot(
                env["TELEGRAM_API_URL"], env["TELEGRAM_BOT_TOKEN"], env["TELEGRAM_BOT_USERNAME"],
                client=client,
            )  # fmt: skip
            # The trader taps the deep link: the bot sees /start, then can write to that chat.
            played = {"chat_id": 77, "text": "/start one-time-code"}
            assert client.post(f"{env['TELEGRAM_API_URL']}/_sim/updates", json=played).is_success
            assert [u["message"]["text"] for u in bot.get_updates()] == ["/start one-time-code"]
            bot.send_message(77, "entry done")
            sent = client.get(f"{env['TELEGRAM_API_URL']}/_sim/messages", params={"chat_id": 77})
            assert [m["text"] for m in sent.json()] == ["entry done"]
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_no_fake_bot_means_no_telegram_settings():
    assert telegram_env({"kite": {"api": "http://127.0.0.1:1"}}) == {}


class _Linking:
    def __init__(self, stop: threading.Event) -> None:
        self.passes, self.stop = 0, stop

    def poll(self) -> int:
        self.passes += 1
        if self.passes == 1:
            raise RuntimeError("telegram down")  # a failed pass never ends the loop
        if self.passes == 3:
            self.stop.set()
        return 0


class _Container:
    def __init__(self, telegram: object, linking: _Linking) -> None:
        self.telegram = telegram

        class Notifications:
            pass

        self.notifications = Notifications()
        self.notifications.linking = linking  # type: ignore[attr-defined]


def test_the_clock_polls_until_stopped_and_survives_a_failed_pass():
    stop = threading.Event()
    linking = _Linking(stop)
    telegram_job.loop(_Container(object(), linking), interval=0.01, stop=stop)  # type: ignore[arg-type]
    assert linking.passes == 3


def test_without_a_bot_the_loop_returns_at_once():
    stop = threading.Event()
    linking = _Linking(stop)
    telegram_job.loop(_Container(None, linking), interval=0.01, stop=stop)  # type: ignore[arg-type]
    assert linking.passes == 0
