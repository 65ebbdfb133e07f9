"""E-mail through Amazon SES (the emulator's SES locally): the notifications' third channel.

The sender is a deployment setting (an SES identity Terraform verifies); the recipient is the
trader's sign-up address. Only the message text travels: notifications never carry a secret
(``domain.notifications`` refuses one when the event is built).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.services.notifications.ports import EmailError

#: SES error codes a later attempt may get past (throttling, a service hiccup).
RETRYABLE = frozenset(
    {"Throttling", "ThrottlingException", "ServiceUnavailable", "InternalFailure"}
)


class SesMailer:
    def __init__(self, client: Any, sender: str) -> None:
        self._client, self.sender = client, sender

    def send(self, to: str, subject: str, text: str) -> None:
        try:
            self._client.send_email(
                Source=self.sender,
                Destination={"ToAddresses": [to]},
                Message={
                    "Subject": {"Data": subject, "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": text, "Charset": "UTF-8"}},
                },
            )
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            # A refused address or an unverified sender is not fixed by retrying.
            raise EmailError(f"SES {code}", retryable=code in RETRYABLE) from None
        except BotoCoreError as error:  # connection or read timeout: may pass next time
            raise EmailError(f"SES unreachable: {type(error).__name__}", retryable=True) from None
