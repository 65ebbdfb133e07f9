"""The e-mail channel: urgent events always, other kinds when chosen; one message per event,
retryable SES errors retried, refusals recorded; and the SES adapter against moto's SES."""

from __future__ import annotations

from datetime import datetime

import boto3
import pytest
from moto import mock_aws

from chalicelib.adapters.email import SesMailer
from chalicelib.domain.calendar import IST
from chalicelib.domain.notifications import Channel, EventKind, NotificationEvent, Preferences
from chalicelib.services.notifications.dispatcher import Dispatcher
from chalicelib.services.notifications.ports import EmailError
from tests.unit.notifications.fakes import MemoryStore, ScriptedBot, ScriptedMailer, Ticker

AT = datetime(2026, 11, 25, 9, 20, tzinfo=IST)


def ev(key: str, kind: EventKind) -> NotificationEvent:
    return NotificationEvent("u1", kind, key, AT, {"strategy": "NIFTY straddle", "reason": "x"})


@pytest.fixture
def rig():
    store, mailer, waits = MemoryStore(), ScriptedMailer(), []
    store.emails["u1"] = "trader@example.in"
    dispatcher = Dispatcher(store, ScriptedBot(), monotonic=Ticker(), max_attempts=3,
                            mailer=mailer, sleep=waits.append)  # fmt: skip
    return store, mailer, dispatcher, waits


def deliveries(store: MemoryStore, key: str) -> dict[str, str]:
    return store.items[("u1", key)]["deliveries"]


def test_urgent_events_are_mailed_and_others_only_when_chosen(rig):
    store, mailer, dispatcher, _ = rig
    assert dispatcher.accept(ev("a", EventKind.STOP_NOT_PLACED))
    assert dispatcher.accept(ev("b", EventKind.TARGET_HIT))  # default: in-app and Telegram
    assert [(to, subject) for to, subject, _ in mailer.sent] == [
        ("trader@example.in", "optexec: URGENT: Stop-loss NOT placed")
    ]
    assert "NIFTY straddle" in mailer.sent[0][2]
    assert deliveries(store, "a")[Channel.EMAIL.value] == "SENT"
    assert Channel.EMAIL.value not in deliveries(store, "b")

    store.save_preferences("u1", Preferences.from_dict({"target_hit": ["email"]}))
    dispatcher.accept(ev("c", EventKind.TARGET_HIT))
    assert len(mailer.sent) == 2 and deliveries(store, "c")[Channel.EMAIL.value] == "SENT"
    assert not dispatcher.accept(ev("c", EventKind.TARGET_HIT))  # once per event
    assert len(mailer.sent) == 2


def test_a_retryable_failure_is_retried_and_a_refusal_is_recorded(rig):
    store, mailer, dispatcher, waits = rig
    mailer.script = [EmailError("SES Throttling", retryable=True)]
    dispatcher.accept(ev("a", EventKind.RISK_ALERT))
    assert len(mailer.sent) == 1 and waits == [1.0]
    mailer.script = [EmailError("SES MessageRejected", retryable=False)]
    dispatcher.accept(ev("b", EventKind.RISK_ALERT))
    assert len(mailer.sent) == 1 and waits == [1.0]  # not retried
    assert deliveries(store, "b")[Channel.EMAIL.value] == "FAILED: SES MessageRejected"
    mailer.script = [EmailError("SES Throttling", retryable=True)] * 3
    dispatcher.accept(ev("c", EventKind.RISK_ALERT))
    assert deliveries(store, "c")[Channel.EMAIL.value].startswith("FAILED")
    assert waits == [1.0, 1.0, 2.0]  # three attempts at most


def test_no_address_is_recorded_as_skipped(rig):
    store, mailer, dispatcher, _ = rig
    del store.emails["u1"]
    dispatcher.accept(ev("a", EventKind.RISK_ALERT))
    assert mailer.sent == [] and deliveries(store, "a")[Channel.EMAIL.value].startswith("SKIPPED")


@pytest.fixture
def ses(monkeypatch):
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    with mock_aws():
        yield boto3.client("ses", region_name="ap-south-1")


def test_the_ses_adapter_sends_from_the_verified_sender(ses):
    ses.verify_email_identity(EmailAddress="alerts@optexec.example")
    SesMailer(ses, "alerts@optexec.example").send("trader@example.in", "subject", "body")
    assert ses.get_send_quota()["SentLast24Hours"] == 1

    with pytest.raises(EmailError) as refused:
        SesMailer(ses, "nobody@unverified.example").send("trader@example.in", "s", "b")
    assert not refused.value.retryable and "MessageRejected" in str(refused.value)
