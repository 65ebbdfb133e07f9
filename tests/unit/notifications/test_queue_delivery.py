"""Delivery through a queue (SQS on AWS) and the resend sweep, with in-memory fakes of our ports:
the recording side forwards ids only, the consumer sends each notification once however often
its message arrives, a 429 goes back to the queue with Telegram's delay, and a notification a
dead worker recorded but never sent is resent once by the sweep."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from chalicelib.adapters.telegram import TelegramRateLimited
from chalicelib.domain.calendar import IST
from chalicelib.domain.notifications import EventKind, NotificationEvent
from chalicelib.services.notifications.delivery import QueueConsumer
from chalicelib.services.notifications.dispatcher import Dispatcher
from chalicelib.services.notifications.linking import TelegramLinking
from chalicelib.services.notifications.ports import message_body, parse_body
from chalicelib.services.notifications.queue import InProcessQueue
from chalicelib.services.notifications.service import MAX_RESENDS, RESEND_AFTER, Notifications
from chalicelib.services.notifications.translate import Facts
from tests.unit.notifications.fakes import MemoryStore, ScriptedBot, Ticker

AT = datetime(2026, 11, 25, 9, 20, tzinfo=IST)


class ListQueue:
    """The delivery queue's port, in memory: what was sent, with delays."""

    def __init__(self) -> None:
        self.messages: list[dict] = []

    def send(self, uid: str, key: str, *, delay: float = 0, attempts: int = 0) -> None:
        self.messages.append({"body": message_body(uid, key, attempts), "delay": delay})

    def take(self) -> list[dict]:
        taken, self.messages = self.messages, []
        return taken


class Now:
    """An aware clock that moves only when told."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> None:
        self.at += delta


def ev(key: str, uid: str = "u1", kind: EventKind = EventKind.TARGET_HIT) -> NotificationEvent:
    return NotificationEvent(uid, kind, key, AT, {"strategy": f"S-{key}"})


@pytest.fixture
def rig():
    store, bot, ticker = MemoryStore(), ScriptedBot(), Ticker()
    store.link_chat("u1", "501")
    sqs = ListQueue()
    recording = InProcessQueue(Dispatcher(store, None, forward=sqs), start_worker=False)
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        ticker.advance(seconds)

    consumer = QueueConsumer(
        Dispatcher(store, bot, monotonic=ticker, sleep=sleep), store, sqs, sleep=sleep
    )
    return store, bot, ticker, sqs, recording, consumer, sleeps


def test_recording_forwards_the_id_only_and_sends_nothing(rig):
    store, bot, _ticker, sqs, recording, _consumer, _ = rig
    recording.publish(ev("k1"))
    recording.publish(ev("k1"))  # the same fact again: recorded once, forwarded once
    recording.process()
    assert bot.sent == []
    [message] = sqs.messages
    assert parse_body(message["body"]) == ("u1", "k1", 0)
    assert "Target" not in message["body"] and "S-k1" not in message["body"]
    assert store.unsent_due  # listed until delivered


def test_a_message_delivered_twice_sends_one_telegram_message(rig):
    store, bot, _ticker, sqs, recording, consumer, _ = rig
    recording.publish(ev("k1"))
    recording.process()
    [message] = sqs.take()
    first = consumer.handle([message])
    again = consumer.handle([message])  # SQS redelivers (at least once)
    both = consumer.handle([message, message])  # or puts it twice in one batch
    assert (first["sent"], again["sent"], both["sent"]) == (1, 0, 0)
    assert len(bot.sent) == 1 and store.delivery("u1", "k1") == "SENT"
    assert store.unsent_due == {}


def test_a_batch_for_one_chat_is_coalesced(rig):
    _store, bot, _ticker, sqs, recording, consumer, _ = rig
    for key in ("a", "b", "c"):
        recording.publish(ev(key))
    recording.process()
    assert consumer.handle(sqs.take())["sent"] == 1
    assert bot.sent[0][1].startswith("3 updates")


def test_429_goes_back_to_the_queue_with_telegrams_delay(rig):
    store, bot, ticker, sqs, recording, consumer, sleeps = rig
    bot.script = [TelegramRateLimited("sendMessage: 429", retry_after=30)]
    recording.publish(ev("k1"))
    recording.process()
    result = consumer.handle(sqs.take())
    assert (result["sent"], result["deferred"]) == (0, 1)
    assert sleeps == []  # no Lambda sleeps through a rate limit
    [again] = sqs.take()
    assert again["delay"] == pytest.approx(30)
    assert store.delivery("u1", "k1") is None
    ticker.advance(30)  # SQS hands it back once its delay is over
    assert consumer.handle([again])["sent"] == 1
    assert store.delivery("u1", "k1") == "SENT"


def test_a_short_turn_is_waited_for_in_the_batch(rig):
    _store, bot, _ticker, sqs, recording, consumer, sleeps = rig
    bot.script = [TelegramRateLimited("sendMessage: 429", retry_after=2)]
    recording.publish(ev("k1"))
    recording.process()
    result = consumer.handle(sqs.take())
    assert (result["sent"], result["deferred"]) == (1, 0)
    assert sleeps == [pytest.approx(2)] and len(bot.sent) == 1


def test_malformed_or_unknown_messages_are_dropped(rig):
    _store, bot, _ticker, _sqs, _recording, consumer, _ = rig
    result = consumer.handle([{"body": "{}"}, {"body": message_body("u1", "nope")}, {}])
    assert result["dropped"] == 3 and bot.sent == []


def test_a_forward_that_fails_leaves_the_notification_to_the_sweep(rig):
    store, _bot, _ticker, _sqs, _recording, _consumer, _ = rig

    class Down:
        def send(self, uid: str, key: str, **_: object) -> None:
            raise ConnectionError("sqs down")

    assert Dispatcher(store, None, forward=Down()).accept(ev("k1")) is True
    assert ("u1", "k1") in store.unsent_due


# -- the resend sweep ------------------------------------------------------------------------
def _service(store: MemoryStore, dispatcher: Dispatcher, clock: Now) -> Notifications:
    queue = InProcessQueue(dispatcher, start_worker=False)
    facts = Facts(
        orders_of=lambda *a: [], strategy_name=lambda *a: "", account_label=lambda *a: "",
        orders_on=lambda *a: [],
    )  # fmt: skip
    return Notifications(store, queue, TelegramLinking(store, None, clock), facts, clock, "")


def test_a_crash_between_record_and_send_is_resent_once_by_the_sweep():
    store, bot, ticker = MemoryStore(), ScriptedBot(), Ticker()
    store.link_chat("u1", "501")
    clock = Now(AT)
    crashed = _service(store, Dispatcher(store, bot, monotonic=ticker, clock=clock), clock)
    # The worker records the event and dies before the send: its outbox is lost with it.
    crashed.queue.dispatcher.accept(ev("k1"))
    crashed.queue.dispatcher.take_waiting()
    assert bot.sent == [] and store.delivery("u1", "k1") is None

    later = _service(store, Dispatcher(store, bot, monotonic=ticker, clock=clock), clock)
    assert later.resend_unsent() == 0  # within the grace period: its worker may still send it
    clock.advance(RESEND_AFTER + timedelta(seconds=1))
    assert later.resend_unsent() == 1
    assert later.resend_unsent() == 0  # taken: the next sweep leaves it to this one
    later.queue.process()
    assert len(bot.sent) == 1 and store.delivery("u1", "k1") == "SENT"
    clock.advance(RESEND_AFTER * 3)
    assert later.resend_unsent() == 0
    later.queue.process()
    assert len(bot.sent) == 1


def test_the_sweep_forwards_to_the_queue_on_aws():
    store, clock, sqs = MemoryStore(), Now(AT), ListQueue()
    recording = _service(store, Dispatcher(store, None, forward=sqs, clock=clock), clock)
    store.record(ev("k1"), "Target hit", AT)  # recorded; its forward never happened
    clock.advance(RESEND_AFTER + timedelta(seconds=1))
    assert recording.resend_unsent() == 1
    recording.queue.process()
    assert [parse_body(m["body"]) for m in sqs.messages] == [("u1", "k1", 0)]


def test_delivered_or_unlinked_notifications_leave_the_unsent_list():
    store, bot, ticker = MemoryStore(), ScriptedBot(), Ticker()
    dispatcher = Dispatcher(store, bot, monotonic=ticker)
    dispatcher.accept(ev("nochat", uid="u2"))  # no chat: SKIPPED
    assert store.unsent_due == {}
    no_bot = Dispatcher(store, None)
    no_bot.accept(ev("inapp"))  # no bot on this deployment: in-app only
    assert store.unsent_due == {}


def test_a_notification_that_never_gets_through_is_given_up_after_a_few_resends():
    store, clock, sqs = MemoryStore(), Now(AT), ListQueue()
    recording = _service(store, Dispatcher(store, None, forward=sqs, clock=clock), clock)
    store.record(ev("k1"), "Target hit", AT)  # every delivery attempt fails somewhere
    taken = []
    for _ in range(MAX_RESENDS + 2):
        clock.advance(RESEND_AFTER + timedelta(seconds=1))
        taken.append(recording.resend_unsent())
    assert taken == [1] * MAX_RESENDS + [0, 0]
    assert store.delivery("u1", "k1") == f"FAILED: not delivered after {MAX_RESENDS} resends"
    assert store.unsent_due == {}


def test_two_sweeps_at_once_take_a_notification_once():
    store, clock = MemoryStore(), Now(AT)
    store.record(ev("k1"), "Target hit", AT)
    cutoff = AT + timedelta(minutes=1)
    found = [store.unsent(cutoff), store.unsent(cutoff)]  # both sweeps read the list first
    assert found == [[("u1", "k1")], [("u1", "k1")]]
    now = clock() + timedelta(minutes=4)
    assert store.postpone("u1", "k1", now, cutoff) == 1
    assert store.postpone("u1", "k1", now, cutoff) == 0  # the other sweep lost the race
