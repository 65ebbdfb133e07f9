"""The wall clock as an injectable port, always in Asia/Kolkata."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from chalicelib.domain.calendar import IST

__all__ = ["IST", "Clock", "system_clock"]
Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(IST)
