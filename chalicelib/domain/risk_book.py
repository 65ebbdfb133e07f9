"""Facts about a risk book and its orders that hold whatever stores them.

A book is LIVE while the monitor acts on it, FROZEN while an exit or a kill switch has taken it
over, and DONE once every guard is: a DONE book leaves the monitor's index. A risk order that
provably never reached the broker (its intent abandoned, or looked up by tag and absent) is
FAILED with the ``never_sent`` code: there is nothing to settle, count or cancel for it.
"""

from __future__ import annotations

from typing import Any, Protocol

LIVE, FROZEN, DONE = "LIVE", "FROZEN", "DONE"
#: The error code of an order that never reached the broker (``never_sent``).
NEVER_SENT = "never_sent"


class _Failed(Protocol):
    status: str
    error: dict[str, Any] | None


def never_sent(order: _Failed) -> bool:
    """An intent that provably never reached the broker (nothing to settle or count)."""
    return order.status == "FAILED" and (order.error or {}).get("code") == NEVER_SENT
