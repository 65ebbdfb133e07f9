"""Operator alerts: one SNS publish to the deployment's alarm topic, shared by the daily jobs."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.container import Container


def publish(container: Container, subject: str, summary: dict[str, Any]) -> bool:
    """Send ``summary`` to the alarm topic; False when no topic is configured (local stage)."""
    container.notifications.operator_alert(subject, summary)  # each user's rows, to that user
    topic = container.settings.alarm_topic_arn
    if not topic:
        return False
    container.aws.client("sns").publish(
        TopicArn=topic,
        Subject=subject[:100],  # SNS refuses longer subjects
        Message=json.dumps(summary, indent=2, default=str),
    )
    summary["alerted"] = topic
    return True
