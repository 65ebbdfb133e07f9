"""The notification feature's part of the composition root (``Container`` inherits it): the bot
and its secrets from SSM, the mailer, the in-process worker, and the SQS delivery side on AWS.

Kept apart from ``container.py`` so each stays small; it uses the container's ``settings``,
``aws``, ``clock``, ``repo`` and ``executions``.
"""

from __future__ import annotations

import logging
from functools import cached_property
from typing import Any

from chalicelib.adapters.aws.sqs import SqsDeliveryQueue
from chalicelib.adapters.dynamo.notification_items import DynamoNotificationStore
from chalicelib.adapters.dynamo.watch_facts import DynamoWatchFacts
from chalicelib.adapters.email import SesMailer
from chalicelib.adapters.telegram import TelegramBot
from chalicelib.services.notifications.delivery import QueueConsumer
from chalicelib.services.notifications.dispatcher import Dispatcher
from chalicelib.services.notifications.linking import TelegramLinking
from chalicelib.services.notifications.queue import InProcessQueue
from chalicelib.services.notifications.service import Notifications
from chalicelib.services.notifications.translate import Facts, account_label
from chalicelib.services.notifications.watch import Watch

log = logging.getLogger(__name__)


class NotificationParts:
    settings: Any
    aws: Any
    clock: Any
    repo: Any
    executions: Any

    @cached_property
    def telegram(self) -> TelegramBot | None:
        s = self.settings
        token = s.telegram_bot_token or self._secure_parameter(s.telegram_bot_token_parameter)
        if not token:
            return None
        return TelegramBot(s.telegram_api_url, token, s.telegram_bot_username)

    @cached_property
    def telegram_webhook_secret(self) -> str:
        """The secret Telegram sends in X-Telegram-Bot-Api-Secret-Token (empty: no webhook)."""
        s = self.settings
        return s.telegram_webhook_secret or self._secure_parameter(
            s.telegram_webhook_secret_parameter
        )

    def _secure_parameter(self, name: str) -> str:
        """An SSM SecureString's value ('' when unnamed or unreadable: logged, never raised,
        never the value itself)."""
        if not name:
            return ""
        try:
            ssm = self.aws.client("ssm")
            return str(ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])
        except Exception:  # notifications must never break the job that triggers them
            log.exception("secure parameter unavailable: %s", name)
            return ""

    @cached_property
    def mailer(self) -> SesMailer | None:
        """E-mail notifications through SES, when a sender is configured."""
        sender = self.settings.notification_email_sender
        return SesMailer(self.aws.client("ses"), sender) if sender else None

    @cached_property
    def notifications(self) -> Notifications:
        store = DynamoNotificationStore()
        # The in-process worker records each notification (and, locally and in engine mode,
        # delivers it); with a delivery queue (AWS) it forwards the notification's id to SQS and
        # the deliver_notifications function sends it (docs/notifications.md).
        forward = self.notification_queue
        dispatcher = Dispatcher(
            store, None if forward else self.telegram, mailer=None if forward else self.mailer,
            forward=forward, clock=self.clock,
        )  # fmt: skip
        queue = InProcessQueue(dispatcher)
        return Notifications(
            store=store,
            queue=queue,
            linking=TelegramLinking(store, self.telegram, self.clock),
            facts=Facts(
                orders_of=self.executions.orders_of_execution,
                strategy_name=lambda uid, sid: str(
                    self.repo.get_strategy(uid, sid).spec.get("name") or sid
                ),
                account_label=self._account_label,
                orders_on=self.executions.orders_on,
            ),
            clock=self.clock,
            login_base=self.login_base,
        )

    @property
    def login_base(self) -> str:
        """A "log in" link's base: the web app's account page when there is one (a phone has
        no bearer token for the API route), else the API route."""
        s = self.settings
        return f"{s.web_app_url}/#" if s.web_app_url else s.public_api_url

    @cached_property
    def notification_queue(self) -> SqsDeliveryQueue | None:
        url = self.settings.notification_queue_url
        return SqsDeliveryQueue(self.aws.client("sqs"), url) if url else None

    @cached_property
    def notification_delivery(self) -> QueueConsumer:
        """The SQS consumer's side (deliver_notifications): reloads and sends."""
        store = DynamoNotificationStore()
        assert self.notification_queue is not None, "NOTIFICATION_QUEUE_URL is not set"
        dispatcher = Dispatcher(store, self.telegram, mailer=self.mailer, clock=self.clock)
        return QueueConsumer(dispatcher, store, self.notification_queue)

    @cached_property
    def notification_watch(self) -> Watch:
        """Sessions about to expire and ticks that never fired (jobs/notify.watch)."""
        facts = DynamoWatchFacts(self.repo, self.executions, account_label)
        return Watch(facts, self.notifications.publish, self.clock, self.login_base)

    def drain_notifications(self, timeout: float) -> bool:
        """Wait (bounded) for queued notifications; True at once when none were ever queued."""
        if "notifications" not in self.__dict__:  # never built in this process: nothing queued
            return True
        return self.notifications.queue.drain(timeout)

    def _account_label(self, uid: str, account_id: str) -> str:
        account = self.repo.get_account(uid, account_id)
        return account_label(account.label, account.broker, account.client_id)
