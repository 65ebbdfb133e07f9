"""The notification delivery queue on AWS: one SQS message per notification to deliver.

The body names the notification (user id and idempotency key) and how many sends were tried; the
text is reloaded from the table by the consumer, so nothing a trader is told (and never a secret)
sits in the queue. A delay (Telegram's ``retry_after``, a chat's turn) is SQS's ``DelaySeconds``,
at most 15 minutes.
"""

from __future__ import annotations

import math
from typing import Any

from chalicelib.services.notifications.ports import message_body

MAX_DELAY_SECONDS = 900


class SqsDeliveryQueue:
    def __init__(self, client: Any, queue_url: str) -> None:
        self._client, self.queue_url = client, queue_url

    def send(self, uid: str, key: str, *, delay: float = 0, attempts: int = 0) -> None:
        body = message_body(uid, key, attempts)
        seconds = min(MAX_DELAY_SECONDS, max(0, math.ceil(delay)))
        self._client.send_message(QueueUrl=self.queue_url, MessageBody=body, DelaySeconds=seconds)
