"""`make deploy` registers the Telegram webhook once after the apply, through the one-shot
function (the secret stays in SSM and the function): only when Telegram is on."""

from __future__ import annotations

import io
from typing import Any

from localdev import deploy


class LambdaEdge:
    """The AWS Lambda client, the outermost edge of the deploy step."""

    def __init__(self) -> None:
        self.invoked: list[str] = []

    def invoke(self, FunctionName: str) -> dict[str, Any]:
        self.invoked.append(FunctionName)
        return {
            "Payload": io.BytesIO(
                b'{"webhook": "https://api.example/api/notifications/telegram/webhook"}'
            )
        }


def test_the_webhook_is_registered_only_when_telegram_is_on(monkeypatch, capsys):
    edge = LambdaEdge()
    monkeypatch.setattr(deploy.boto3, "client", lambda service, region_name: edge)
    arn = "arn:aws:lambda:ap-south-1:1:function:optexec-dev-set_telegram_webhook"
    deploy.register_telegram_webhook(
        {"telegram_webhook_secret_parameter": "", "function_arns": {"set_telegram_webhook": arn}},
        "ap-south-1",
    )
    assert edge.invoked == []  # no bot token: no secret parameter, nothing to register
    outputs = {
        "telegram_webhook_secret_parameter": "/optexec-dev/telegram/webhook-secret",
        "function_arns": {"set_telegram_webhook": arn},
    }
    deploy.register_telegram_webhook(outputs, "ap-south-1")
    assert edge.invoked == [arn]
    printed = capsys.readouterr().out
    assert "telegram webhook:" in printed and "webhook-secret" not in printed
