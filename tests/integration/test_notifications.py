"""Notifications end to end on the emulator: linking a chat (getUpdates and webhook), execution
events recorded once and delivered to the fake Telegram, the in-app history, preferences, and
one user never seeing another's."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib.container import Container, use_container
from chalicelib.jobs import alerts
from chalicelib.jobs.telegram import poll_updates
from chalicelib.services.notifications.linking import LINKED
from sim.telegram import FakeTelegram
from tests.integration.conftest import Api, sign_up

TOKEN = "424242:INTEGRATION-token"
HOOK_SECRET = "hook-Secret_1"


@pytest.fixture
def tg(settings, container, platform_clock) -> Iterator[dict]:
    fake = FakeTelegram(TOKEN, username="optexec_it_bot").start()
    local = Container(
        dataclasses.replace(
            settings, telegram_api_url=fake.base_url, telegram_bot_token=TOKEN,
            telegram_bot_username=fake.username, telegram_webhook_secret=HOOK_SECRET,
        ),
        clock=platform_clock,
    )  # fmt: skip
    use_container(local)
    try:
        yield {"fake": fake, "container": local}
    finally:
        use_container(container)
        local.notifications.queue.stop()
        fake.stop()


def link_code(api: Api) -> str:
    answer = api.call("POST", "/notifications/telegram/link")
    assert answer.status_code == 200, answer.body
    url = urlsplit(answer.data["url"])
    assert (url.scheme, url.netloc, url.path) == ("https", "t.me", "/optexec_it_bot")
    return parse_qs(url.query)["start"][0]


def test_linking_by_get_updates_then_an_urgent_event_once(client, tg):
    api, uid = sign_up(client)
    fake, local = tg["fake"], tg["container"]
    fake.user_sends(7001, f"/start {link_code(api)}")
    assert poll_updates(local) == {"updates": 1}
    assert fake.messages(7001)[-1]["text"] == LINKED
    assert api.call("GET", "/notifications/preferences").data["telegram"] == {"linked": True}

    ses = local.aws.client("ses")
    mailed_before = ses.get_send_quota()["SentLast24Hours"]
    execution = local.executions.open_execution(
        uid, "2026-11-25", "S-missing", "ENTRY", "2026-11-25T09:20:00+05:30", "test"
    )
    alert = {"kind": "alert", "code": "risk_not_armed", "message": "stop-losses NOT placed"}
    local.executions.add_event(execution, alert)
    local.executions.add_event(execution, alert)  # recorded again by a retry: told once
    assert local.notifications.queue.drain(timeout=10)

    history = api.call("GET", "/notifications").data["notifications"]
    assert [(n["kind"], n["urgency"]) for n in history] == [("stop_not_placed", "urgent")]
    # Urgent: Telegram and e-mail (through the emulator's SES, from the Terraform-made sender).
    assert history[0]["deliveries"] == {"telegram": "SENT", "email": "SENT"}
    assert ses.get_send_quota()["SentLast24Hours"] == mailed_before + 1
    texts = [m["text"] for m in fake.messages(7001)]
    assert len(texts) == 2 and texts[1].startswith("URGENT: Stop-loss NOT placed")


def test_webhook_links_only_with_the_secret(client, tg):
    api, _ = sign_up(client)
    code = link_code(api)
    update = {"update_id": 9, "message": {"message_id": 1, "chat": {"id": 7002, "type": "private"},
                                          "date": 0, "text": f"/start {code}"}}  # fmt: skip
    tg["fake"].user_sends(7002, "hello")  # the chat exists on the fake, for the reply

    def post(secret: str):
        headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret}
        return client.http.post(
            "/notifications/telegram/webhook", headers=headers, body=json.dumps(update)
        )

    assert post("wrong").status_code == 401
    assert api.call("GET", "/notifications/preferences").data["telegram"]["linked"] is False
    assert post(HOOK_SECRET).status_code == 200
    assert api.call("GET", "/notifications/preferences").data["telegram"]["linked"] is True


def test_preferences_history_and_isolation(client, tg):
    api, uid = sign_up(client)
    other, _ = sign_up(client, "Ravi Iyer")
    bad = api.call("PUT", "/notifications/preferences", {"channels": {"entry_done": ["sms"]}})
    assert bad.status_code == 400 and bad.data["error"]["field"] == "channels"
    put = api.call("PUT", "/notifications/preferences", {"channels": {"entry_done": ["in_app"]}})
    assert put.status_code == 200 and put.data["channels"]["entry_done"] == ["in_app"]
    assert other.call("GET", "/notifications/preferences").data["channels"]["entry_done"] == [
        "in_app", "telegram",
    ]  # fmt: skip

    local = tg["container"]
    for day in ("2026-11-24", "2026-11-25"):  # readiness through the alert publisher
        summary = {"date": day, "not_ready": [{"uid": uid, "account_id": "A1",
                                               "broker": "zerodha", "label": "Main"}]}  # fmt: skip
        alerts.publish(local, "1 broker account(s) need today's login", summary)
        assert local.notifications.queue.drain(timeout=10)
    mine = api.call("GET", "/notifications").data["notifications"]
    assert [n["kind"] for n in mine] == ["account_not_ready"] * 2
    assert "Date: 2026-11-25" in mine[0]["text"] and "Date: 2026-11-24" in mine[1]["text"]
    assert mine[0]["deliveries"] == {"telegram": "SKIPPED: no chat", "email": "SENT"}  # urgent
    assert other.call("GET", "/notifications").data["notifications"] == []


def test_the_token_can_come_from_an_ssm_secure_string(settings, platform_clock, emulator_url):
    import boto3

    fake = FakeTelegram(TOKEN).start()
    try:
        ssm = boto3.client("ssm", endpoint_url=emulator_url, region_name=settings.region)
        name = "/optexec-test/telegram/bot-token"
        ssm.put_parameter(Name=name, Value=TOKEN, Type="SecureString", Overwrite=True)
        built = Container(
            dataclasses.replace(
                settings, telegram_api_url=fake.base_url, telegram_bot_token_parameter=name
            ),
            clock=platform_clock,
        )
        fake.user_sends(7003, "hi")
        assert built.telegram is not None
        built.telegram.send_message(7003, "from the parameter")
        assert fake.messages(7003)[0]["text"] == "from the parameter"
        missing = Container(
            dataclasses.replace(settings, telegram_bot_token_parameter="/nope"),
            clock=platform_clock,
        )
        assert missing.telegram is None  # logged; notifications stay in-app
    finally:
        fake.stop()


def test_kill_switch_engaged_then_flat(client, tg):
    api, _ = sign_up(client)
    engaged = api.call("POST", "/kill-switch", {"scope": "all", "reason": "test"})
    assert engaged.status_code in (200, 202), engaged.body
    assert tg["container"].notifications.queue.drain(timeout=10)
    kinds = [n["kind"] for n in api.call("GET", "/notifications").data["notifications"]]
    assert sorted(kinds) == ["kill_switch_done", "kill_switch_engaged"]
    done = next(
        n for n in api.call("GET", "/notifications").data["notifications"]
        if n["kind"] == "kill_switch_done"
    )  # fmt: skip
    assert "Status: FLAT" in done["text"]
    assert api.call("DELETE", "/kill-switch/all").status_code == 204
