"""What a trader is told: notification events, their urgency, and where each kind goes.

An event is built from facts the platform already recorded (an execution's events, the 08:30
readiness summary) and carries only text-safe fields: client ids are masked and field names that
can hold a credential are refused, so no message, stored notification or log line can leak one.
The idempotency key names the fact, not the attempt: a retried step that records the same fact
again builds the same key, and the store lets one notification per key through.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class EventKind(StrEnum):
    ENTRY_DONE = "entry_done"
    EXIT_DONE = "exit_done"
    ORDER_REJECTED = "order_rejected"
    LEG_FAILURE = "leg_failure"
    UNWIND = "unwind"
    STOP_PLACED = "stop_placed"
    STOP_HIT = "stop_hit"
    STOP_TRAILED = "stop_trailed"
    STOP_TO_COST = "stop_to_cost"
    TARGET_HIT = "target_hit"
    MTM_EXIT = "mtm_exit"
    POSITION_CLOSED = "position_closed"
    RE_ENTRY = "re_entry"
    WAIT_AND_TRADE_ENTRY = "wait_and_trade_entry"
    STOP_NOT_PLACED = "stop_not_placed"
    RISK_ALERT = "risk_alert"
    ORDER_UNKNOWN = "order_unknown"
    ENTRY_MISSED = "entry_missed"
    ACCOUNT_NOT_READY = "account_not_ready"
    DAY_REPORT = "day_report"
    KILL_SWITCH_ENGAGED = "kill_switch_engaged"
    KILL_SWITCH_DONE = "kill_switch_done"
    SESSION_EXPIRING = "session_expiring"
    ENGINE_MISSING = "engine_missing"
    DAY_LIMIT_REACHED = "day_limit_reached"
    MARGIN_INSUFFICIENT = "margin_insufficient"
    MARGIN_UNCHECKED = "margin_unchecked"


class Urgency(StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"


class Channel(StrEnum):
    TELEGRAM = "telegram"
    IN_APP = "in_app"
    EMAIL = "email"


#: Kinds that always go out on every linked channel, whatever the preferences say.
URGENT_KINDS = frozenset(
    {
        EventKind.STOP_NOT_PLACED,
        EventKind.LEG_FAILURE,
        EventKind.UNWIND,
        EventKind.RISK_ALERT,
        EventKind.ORDER_UNKNOWN,
        EventKind.ENTRY_MISSED,
        EventKind.ACCOUNT_NOT_READY,
        EventKind.KILL_SWITCH_ENGAGED,
        EventKind.ENGINE_MISSING,
        EventKind.DAY_LIMIT_REACHED,
        EventKind.MARGIN_INSUFFICIENT,
        EventKind.MARGIN_UNCHECKED,
    }
)
#: Field names that may hold a credential: an event carrying one is a bug, refused at build time.
SECRET_WORDS = ("token", "secret", "password", "api_key", "apikey", "totp", "pin", "checksum")


def mask_client_id(client_id: str) -> str:
    """``AB1234`` -> ``AB**34``: enough to tell accounts apart, never the full id."""
    text = str(client_id)
    if len(text) <= 4:
        return "*" * len(text)
    return text[:2] + "*" * (len(text) - 4) + text[-2:]


def _check_safe(fields: Mapping[str, Any], path: str = "") -> None:
    for name, value in fields.items():
        lowered = str(name).lower()
        if any(word in lowered for word in SECRET_WORDS):
            raise ValueError(f"notification field {path}{name!r} may hold a secret")
        if isinstance(value, Mapping):
            _check_safe(value, f"{path}{name}.")
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, Mapping):
                    _check_safe(item, f"{path}{name}[].")


def idempotency_key(*parts: Any) -> str:
    """A stable key for one fact: the same parts (dicts in any key order) give the same key."""
    canonical = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class NotificationEvent:
    uid: str
    kind: EventKind
    key: str
    occurred_at: datetime
    fields: Mapping[str, Any] = field(default_factory=dict)
    urgency: Urgency = Urgency.NORMAL

    def __post_init__(self) -> None:
        if self.occurred_at.tzinfo is None:
            raise ValueError("occurred_at must be aware")
        _check_safe(self.fields)
        if self.kind in URGENT_KINDS and self.urgency is not Urgency.URGENT:
            object.__setattr__(self, "urgency", Urgency.URGENT)

    @property
    def urgent(self) -> bool:
        return self.urgency is Urgency.URGENT


DEFAULT_CHANNELS: tuple[Channel, ...] = (Channel.IN_APP, Channel.TELEGRAM)


@dataclass(frozen=True)
class Preferences:
    """Event kind -> channels. Kinds not named use ``DEFAULT_CHANNELS``; urgent kinds always get
    every channel, and in-app always records (it is the history the API serves)."""

    channels: Mapping[EventKind, frozenset[Channel]] = field(default_factory=dict)

    def channels_for(self, event: NotificationEvent) -> frozenset[Channel]:
        if event.urgent:
            return frozenset(Channel)
        chosen = self.channels.get(event.kind, frozenset(DEFAULT_CHANNELS))
        return frozenset(chosen) | {Channel.IN_APP}

    def to_dict(self) -> dict[str, list[str]]:
        return {
            kind.value: sorted(
                c.value for c in self.channels.get(kind, frozenset(DEFAULT_CHANNELS))
            )
            for kind in EventKind
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Preferences:
        """Parse ``{kind: [channel, ...]}``; ValueError names the first bad kind or channel."""
        parsed: dict[EventKind, frozenset[Channel]] = {}
        for raw_kind, raw_channels in doc.items():
            try:
                kind = EventKind(raw_kind)
            except ValueError:
                raise ValueError(f"unknown event kind {raw_kind!r}") from None
            if not isinstance(raw_channels, list):
                raise ValueError(f"{raw_kind}: a list of channels is expected")
            try:
                parsed[kind] = frozenset(Channel(c) for c in raw_channels)
            except ValueError:
                raise ValueError(f"{raw_kind}: channels are {[c.value for c in Channel]}") from None
        return cls(parsed)


@dataclass(frozen=True)
class StoredNotification:
    """A recorded notification as the delivery step reloads it (the SQS consumer, the resend
    sweep): enough to route it again, and what each channel already did (None: not yet)."""

    event: NotificationEvent
    text: str
    telegram: str | None = None
    email: str | None = None
