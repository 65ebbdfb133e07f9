"""Notification delivery as on AWS, on the emulator: the SQS queue Terraform made (with its
dead-letter queue and alarm), a recorded event enqueued by id, the deliver_notifications handler
sending it to the fake Telegram once however often it runs, the resend sweep finding what a dead
worker left, the webhook secret from an SSM SecureString, and every AWS call within the role."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import boto3
import pytest

from chalicelib.container import Container, use_container
from chalicelib.domain.notifications import EventKind, NotificationEvent
from chalicelib.jobs import notify, telegram
from chalicelib.services.notifications.ports import message_body, parse_body
from chalicelib.services.notifications.service import RESEND_AFTER
from sim.telegram import FakeTelegram
from tests.conftest import REGION
from tests.integration import iam_audit
from tests.integration.conftest import sign_up

TOKEN = "515151:QUEUE-token"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeTelegram]:
    bot = FakeTelegram(TOKEN, username="optexec_queue_bot").start()
    yield bot
    bot.stop()


@pytest.fixture
def on_aws(settings, container, platform_clock, infra, fake) -> Iterator[Container]:
    """A container configured as the packaged functions are: SQS delivery on."""
    built = Container(
        dataclasses.replace(
            settings, telegram_api_url=fake.base_url, telegram_bot_token=TOKEN,
            telegram_bot_username=fake.username,
            notification_queue_url=infra["notification_queue_url"],
        ),
        clock=platform_clock,
    )  # fmt: skip
    use_container(built)
    try:
        yield built
    finally:
        use_container(container)
        built.notifications.queue.stop()


def _sqs(settings):
    return boto3.client("sqs", endpoint_url=settings.aws_endpoint_url, region_name=REGION)


def _receive(container: Container) -> list[str]:
    """What the event source mapping would hand the consumer: the bodies waiting, taken off."""
    sqs, url = container.aws.client("sqs"), container.settings.notification_queue_url
    bodies = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = got.get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_the_queue_its_dead_letters_and_their_alarm_exist_after_apply(infra, settings):
    sqs = _sqs(settings)
    attributes = sqs.get_queue_attributes(
        QueueUrl=infra["notification_queue_url"], AttributeNames=["All"]
    )["Attributes"]
    dlq_arn = sqs.get_queue_attributes(
        QueueUrl=infra["notification_dlq_url"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    assert attributes["QueueArn"] == infra["notification_queue_arn"]
    assert json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"] == dlq_arn
    assert int(attributes["VisibilityTimeout"]) == 360
    cloudwatch = boto3.client(
        "cloudwatch", endpoint_url=settings.aws_endpoint_url, region_name=REGION
    )
    [alarm] = [
        a
        for a in cloudwatch.describe_alarms()["MetricAlarms"]
        if a["Namespace"] == "AWS/SQS" and a["Dimensions"][0]["Value"] == dlq_arn.split(":")[-1]
    ]
    assert alarm["AlarmActions"] == [infra["alarm_topic_arn"]]


def test_an_event_is_enqueued_by_id_and_delivered_once_within_the_role(
    client, on_aws, fake, infra, emulator_url
):
    api, uid = sign_up(client)
    _receive(on_aws)  # start from an empty queue
    on_aws.notifications.store.link_chat(uid, "7101")
    fake.user_sends(7101, "hi")
    iam_audit.recorder(emulator_url, "reset-recording")
    iam_audit.recorder(emulator_url, "start-recording")
    try:
        execution = on_aws.executions.open_execution(
            uid, "2026-11-25", "S-queue", "ENTRY", "2026-11-25T09:20:00+05:30", "test"
        )
        alert = {"kind": "alert", "code": "risk_not_armed", "message": "stop-losses NOT placed"}
        on_aws.executions.add_event(execution, alert)
        assert on_aws.notifications.queue.drain(timeout=10)
        assert fake.messages(7101) == []  # recorded and queued: not sent by the recording side
        [body] = _receive(on_aws)
        assert set(json.loads(body)) == {"uid", "key", "attempts"}
        assert "Stop-loss" not in body and TOKEN not in body

        event = client.events.generate_sqs_event(message_bodies=[body])
        first = client.lambda_.invoke("deliver_notifications", event).payload
        again = client.lambda_.invoke("deliver_notifications", event).payload  # redelivered
    finally:
        iam_audit.recorder(emulator_url, "stop-recording")
    assert (first["sent"], again["sent"]) == (1, 0)
    texts = [m["text"] for m in fake.messages(7101)]
    assert len(texts) == 1 and texts[0].startswith("URGENT: Stop-loss NOT placed")
    [note] = api.call("GET", "/notifications").data["notifications"]
    assert note["deliveries"] == {"telegram": "SENT", "email": "SENT"}
    assert (uid, note["id"]) not in on_aws.notifications.store.unsent(
        on_aws.clock() + timedelta(days=1)
    )

    made = list(iam_audit.calls(iam_audit.recorded(emulator_url), _resolver(infra, emulator_url)))
    actions = {c.action for c in made}
    assert {"sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "ses:SendEmail"} <= (
        actions
    )
    policy = iam_audit.statements(_role_policies(infra, emulator_url))
    assert iam_audit.denied(policy, made) == []
    other_queue = iam_audit.Call("sqs:SendMessage", infra["notification_queue_arn"] + "-x")
    assert iam_audit.denied(policy, [other_queue]) == [other_queue]


def test_the_sweep_resends_what_a_dead_worker_recorded_but_never_sent(client, on_aws, fake):
    _api, uid = sign_up(client)
    _receive(on_aws)
    store = on_aws.notifications.store
    store.link_chat(uid, "7102")
    fake.user_sends(7102, "hi")
    event = NotificationEvent(uid, EventKind.TARGET_HIT, "crash-1", on_aws.clock(), {"x": "1"})
    # The worker recorded it and died before forwarding it (nothing reached the queue).
    assert store.record(event, "Target hit", on_aws.clock() - RESEND_AFTER * 2)

    assert notify.resend(on_aws)["resent"] >= 1
    assert on_aws.notifications.queue.drain(timeout=10)
    mine = [b for b in _receive(on_aws) if json.loads(b)["uid"] == uid]
    assert [json.loads(b)["key"] for b in mine] == ["crash-1"]
    cutoff = on_aws.clock() - RESEND_AFTER
    assert store.postpone(uid, "crash-1", on_aws.clock(), cutoff) == 0  # a concurrent sweep
    notify.resend(on_aws)  # the next sweep leaves it to the first
    assert on_aws.notifications.queue.drain(timeout=10)
    assert [b for b in _receive(on_aws) if json.loads(b)["uid"] == uid] == []

    client.lambda_.invoke("deliver_notifications", client.events.generate_sqs_event(mine))
    assert [m["text"] for m in fake.messages(7102)] == ["Target hit"]
    assert store.load(uid, "crash-1").telegram == "SENT"


def test_a_429_goes_back_to_the_queue_with_telegrams_delay(client, on_aws, fake):
    _api, uid = sign_up(client)
    _receive(on_aws)
    store = on_aws.notifications.store
    store.link_chat(uid, "7104")
    fake.user_sends(7104, "hi")
    event = NotificationEvent(uid, EventKind.TARGET_HIT, "limited-1", on_aws.clock(), {"x": "1"})
    assert store.record(event, "Target hit", on_aws.clock())
    fake.fail_next(1, retry_after=4)  # longer than a batch waits: back to the queue
    body = message_body(uid, "limited-1")
    first = client.lambda_.invoke("deliver_notifications", client.events.generate_sqs_event([body]))
    assert (first.payload["sent"], first.payload["deferred"]) == (0, 1)
    assert fake.messages(7104) == []
    waited: list[str] = []
    for _ in range(300):  # SQS hands it back after DelaySeconds; polled, not a timing assertion
        waited = _receive(on_aws)
        if waited:
            break
        time.sleep(0.1)
    assert [parse_body(b) for b in waited] == [(uid, "limited-1", 0)]
    again = client.lambda_.invoke("deliver_notifications", client.events.generate_sqs_event(waited))
    assert again.payload["sent"] == 1
    assert [m["text"] for m in fake.messages(7104)] == ["Target hit"]


def test_the_webhook_secret_comes_from_ssm_and_is_registered_with_telegram(
    client, settings, container, platform_clock, fake
):
    ssm = boto3.client("ssm", endpoint_url=settings.aws_endpoint_url, region_name=REGION)
    name, secret = "/optexec-test/telegram/webhook-secret", "Generated_by-terraform0123456789"
    ssm.put_parameter(Name=name, Value=secret, Type="SecureString", Overwrite=True)
    built = Container(
        dataclasses.replace(
            settings, telegram_api_url=fake.base_url, telegram_bot_token=TOKEN,
            telegram_webhook_secret_parameter=name,
        ),
        clock=platform_clock,
    )  # fmt: skip
    answer = telegram.set_webhook(built)
    url = f"{settings.public_api_url}/notifications/telegram/webhook"
    assert answer == {"webhook": url} and secret not in json.dumps(answer)
    assert fake.webhook == {"url": url, "secret_token": secret}
    fake.webhook = None  # leave the fake polled by getUpdates for the other tests

    update = {"update_id": 1, "message": {"message_id": 1, "chat": {"id": 7103, "type": "private"},
                                          "date": 0, "text": "/start nocode"}}  # fmt: skip

    def post(token: str) -> int:
        headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": token}
        return client.http.post(
            "/notifications/telegram/webhook", headers=headers, body=json.dumps(update)
        ).status_code

    fake.user_sends(7103, "hello")
    use_container(built)
    try:
        assert post("wrong") == 401
        assert post(secret) == 200
    finally:
        use_container(container)
    missing = Container(
        dataclasses.replace(settings, telegram_webhook_secret_parameter="/nope"),
        clock=platform_clock,
    )
    assert missing.telegram_webhook_secret == ""  # logged; the webhook route stays off


def _resolver(infra, endpoint):
    kms = boto3.client("kms", endpoint_url=endpoint, region_name=REGION)
    keys = {}
    for key in kms.list_keys()["Keys"]:
        keys[key["KeyId"]] = keys[key["KeyArn"]] = key["KeyArn"]
    for alias in kms.list_aliases()["Aliases"]:
        if alias.get("TargetKeyId") in keys:
            keys[alias["AliasName"]] = keys[alias["TargetKeyId"]]
    return iam_audit.Resolver(REGION, infra["table_arn"].split(":")[4], keys)


def _role_policies(infra, endpoint):
    iam = boto3.client("iam", endpoint_url=endpoint, region_name=REGION)
    role = infra["lambda_role_arn"].rsplit("/", 1)[-1]
    names = iam.list_role_policies(RoleName=role)["PolicyNames"]
    return [iam.get_role_policy(RoleName=role, PolicyName=n)["PolicyDocument"] for n in names]


def test_the_watch_reads_the_planners_index_executions_and_sessions(client, container):
    """The watch's facts on the real table: a strategy's schedule entry with no execution is an
    engine missing; once the planner's gate exists it is not; a session ending within the hour
    is about to expire (names masked)."""
    from chalicelib.adapters.dynamo.models import SessionItem
    from chalicelib.adapters.dynamo.watch_facts import DynamoWatchFacts
    from chalicelib.domain.calendar import IST
    from chalicelib.services.notifications.translate import account_label
    from chalicelib.services.notifications.watch import Watch
    from tests.factories import four_leg_strategy

    api, uid = sign_up(client)
    basket = api.call("POST", "/baskets", {"name": "Watch", "enabled": True}).data["id"]
    accounts = [
        api.call(
            "POST", "/accounts",
            {"broker": "paper", "client_id": f"WATCH{i}", "label": f"W{i}", "api_key": "k",
             "api_secret": "s"},
        ).data["id"]
        for i in (1, 2)
    ]  # fmt: skip
    body = four_leg_strategy(basket, *accounts, entry={"time": "13:07:00", "days": ["TUE"]})
    created = api.call("POST", "/strategies", body)
    assert created.status_code == 201, created.body
    tuesday = datetime(2026, 12, 1, 13, 7, 45, tzinfo=IST)  # a trading Tuesday, T + 45 s
    published: list[NotificationEvent] = []
    facts = DynamoWatchFacts(container.repo, container.executions, account_label)
    watch = Watch(facts, published.append, lambda: tuesday, "https://app.example/#")

    watch.missing_ticks()
    [missing] = [e for e in published if e.uid == uid]
    assert missing.kind is EventKind.ENGINE_MISSING
    assert missing.fields["strategy"] == "NIFTY short iron condor"
    sid = created.data["id"]
    gate = container.executions.open_execution(
        uid, "2026-12-01", sid, "ENTRY", tuesday.replace(second=0).isoformat(), "test"
    )
    assert gate is not None
    published.clear()
    watch.missing_ticks()
    assert [e for e in published if e.uid == uid] == []  # planned (and not all orders BUILT)

    expiring = SessionItem(
        *SessionItem.key(uid, accounts[0]), uid=uid, account_id=accounts[0], broker="paper",
        sealed={}, expires_at=(tuesday + timedelta(minutes=40)).isoformat(),
    )  # fmt: skip
    container.repo.put_session(expiring)
    watch.expiring_sessions()
    [soon] = [e for e in published if e.uid == uid]
    assert soon.kind is EventKind.SESSION_EXPIRING
    assert soon.fields["account"] == "W1 (paper WA**H1)"  # never the whole client id
    assert soon.fields["login"] == f"https://app.example/#/accounts/{accounts[0]}/login"
