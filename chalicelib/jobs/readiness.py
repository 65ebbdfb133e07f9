"""Pre-market readiness (08:30 IST on weekdays): the accounts that cannot trade today
(``services/readiness.py``), published to the alarm topic for their owners before the first entry.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.container import Container
from chalicelib.jobs import alerts


def pre_market(container: Container, now: datetime | None = None) -> dict[str, Any]:
    summary = container.readiness.check(now or container.clock())
    if summary["not_ready"]:
        count = len(summary["not_ready"])
        alerts.publish(container, f"{count} broker account(s) need today's login", summary)
    return summary
