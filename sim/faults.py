"""Injected failures, per account, consumed one request at a time.

Faults are armed with a count and consumed by the request they affect, so a test says exactly
which call fails ("the next SL order is cancelled", "the next two requests time out").
Order-level faults live in the exchange (every dialect sees them); HTTP-level faults (IP, token,
5xx, timeouts) live in each fake server.
"""

from __future__ import annotations

import threading
from enum import StrEnum
from typing import Any


class Fault(StrEnum):
    """Every failure a fake broker can inject (see sim/README.md)."""

    RMS_REJECT = "rms_reject"
    PARTIAL_FILL = "partial_fill"
    SL_CANCELLED = "sl_cancelled"
    IP_NOT_WHITELISTED = "ip_not_whitelisted"
    TOKEN_EXPIRED = "token_expired"
    FREEZE_QTY = "freeze_qty"
    LOT_SIZE = "lot_size"
    MARKET_REFUSED = "market_refused"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    DUPLICATE_TAG = "duplicate_tag"
    MALFORMED_REPLY = "malformed_reply"


#: Faults the exchange applies while placing / matching an order.
ORDER_FAULTS = frozenset(
    {
        Fault.RMS_REJECT,
        Fault.PARTIAL_FILL,
        Fault.SL_CANCELLED,
        Fault.FREEZE_QTY,
        Fault.LOT_SIZE,
        Fault.MARKET_REFUSED,
        Fault.DUPLICATE_TAG,
    }
)


class FaultBook:
    """Armed faults: (account, fault) -> remaining count and parameters."""

    def __init__(self) -> None:
        self._armed: dict[tuple[str, Fault], list[Any]] = {}
        self._lock = threading.Lock()

    def arm(self, account: str, fault: Fault | str, count: int = 1, **params: Any) -> None:
        """Arm ``fault`` for the next ``count`` matching requests of ``account``."""
        if count < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            self._armed[(account, Fault(fault))] = [count, params]

    def take(self, account: str, fault: Fault) -> dict[str, Any] | None:
        """Consume one use of ``fault`` for ``account``: its parameters, or None if not armed."""
        with self._lock:
            entry = self._armed.get((account, fault))
            if entry is None:
                return None
            entry[0] -= 1
            if entry[0] <= 0:
                del self._armed[(account, fault)]
            return dict(entry[1])

    def peek(self, account: str, fault: Fault) -> bool:
        """Whether ``fault`` is armed for ``account`` (without consuming it)."""
        with self._lock:
            return (account, fault) in self._armed

    def clear(self, account: str | None = None) -> None:
        """Disarm everything (for one account, or all)."""
        with self._lock:
            for key in [k for k in self._armed if account is None or k[0] == account]:
                del self._armed[key]
