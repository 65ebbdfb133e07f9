"""The canonical broker port: the types every dialect adapter speaks to the services.

Services never see a broker's field names, enums or symbols: they build an ``OrderRequest`` from
the market model's ``Instrument`` and read back an ``OrderAck`` (the broker accepted the request)
and later an ``OrderState`` (what actually happened). An acknowledgement is not a fill: the
terminal state comes from ``status`` / ``order_book``.

Quantities are in UNITS (lots x lot size), never lots. Prices are Decimal on the contract's tick.
There is no bare MARKET order type: a "market" leg is a LIMIT at a protected price
(``chalicelib.domain.protection``), and a stop is SL_LIMIT (exchanges refuse SL-M on options).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol, runtime_checkable

from chalicelib.domain.instrument import ContractKey, Instrument
from chalicelib.domain.money import is_on_tick
from chalicelib.domain.strategy import Product, Side  # one definition of the canonical enums

TAG_PATTERN = re.compile(r"^[A-Za-z0-9]{1,20}$")


class OrderType(StrEnum):
    """LIMIT (also used, with a protected price, for "market" legs) or stop-loss limit."""

    LIMIT = "LIMIT"
    SL_LIMIT = "SL_LIMIT"


class OrderStatus(StrEnum):
    """Canonical order status; every dialect's enum maps into exactly one of these.

    PENDING covers the broker's in-flight states (validation / put request received / transit /
    modify or cancel pending): not yet at the exchange, not terminal.
    """

    PENDING = "PENDING"
    OPEN = "OPEN"
    TRIGGER_PENDING = "TRIGGER_PENDING"
    COMPLETE = "COMPLETE"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"

    @property
    def terminal(self) -> bool:
        """True when the order can no longer change."""
        return self in (OrderStatus.COMPLETE, OrderStatus.CANCELLED, OrderStatus.REJECTED)


class InvalidRequest(ValueError):
    """An ``OrderRequest`` that no broker should ever see (checked before any I/O)."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """What one broker account's API app needs; ``extra`` holds dialect-specific secrets
    (Angel MPIN, Noren vendor code...). Never logged: ``repr`` hides secrets."""

    api_key: str
    api_secret: str = field(repr=False, default="")
    client_id: str = ""
    redirect_url: str = ""
    extra: Mapping[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class Session:
    """A logged-in broker session. ``expires_at`` is an aware Asia/Kolkata datetime."""

    broker: str
    access_token: str = field(repr=False)
    expires_at: datetime
    user_id: str = ""
    extra: Mapping[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.expires_at.tzinfo is None:
            raise ValueError("Session.expires_at must be timezone-aware (Asia/Kolkata)")

    def expired(self, now: datetime) -> bool:
        """True once ``now`` (aware) is at or past the expiry."""
        return now >= self.expires_at


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """One child order as the platform wants it, before any dialect mapping.

    ``tag`` (<= 20 alphanumerics) identifies strategy, leg and slice; it must be unique per
    account per day, because an ambiguous placement is resolved by looking the tag up.
    """

    instrument: Instrument
    side: Side
    quantity: int
    product: Product
    order_type: OrderType
    price: Decimal
    tag: str
    trigger: Decimal | None = None

    def __post_init__(self) -> None:
        lot = self.instrument.lot_size
        if self.quantity <= 0 or self.quantity % lot:
            raise InvalidRequest(f"quantity {self.quantity} is not a positive multiple of {lot}")
        tick = self.instrument.tick_size
        for name, value in (("price", self.price), ("trigger", self.trigger)):
            if value is not None and (value <= 0 or not is_on_tick(value, tick)):
                raise InvalidRequest(f"{name} {value} must be positive and on the {tick} tick")
        if (self.order_type is OrderType.SL_LIMIT) != (self.trigger is not None):
            raise InvalidRequest("a trigger is required for SL_LIMIT and only for SL_LIMIT")
        if not TAG_PATTERN.match(self.tag):
            raise InvalidRequest(f"tag {self.tag!r} must be 1-20 letters or digits")


@dataclass(frozen=True, slots=True)
class OrderAck:
    """The broker accepted the request and named it. ``recovered`` is True when the ack came
    from a tag lookup after an ambiguous failure rather than from the placement reply."""

    order_id: str
    tag: str = ""
    recovered: bool = False


@dataclass(frozen=True, slots=True)
class OrderState:
    """An order as the broker last reported it, in canonical terms."""

    order_id: str
    status: OrderStatus
    quantity: int
    filled_quantity: int
    average_price: Decimal | None
    tag: str = ""
    symbol: str = ""
    side: Side | None = None
    message: str = ""
    broker_status: str = ""

    @property
    def pending_quantity(self) -> int:
        return 0 if self.status.terminal else self.quantity - self.filled_quantity


@dataclass(frozen=True, slots=True)
class Position:
    """A net position in the broker's books (quantity in units; negative = short)."""

    symbol: str
    product: Product | None
    net_quantity: int
    average_price: Decimal | None
    last_price: Decimal | None = None
    exchange: str = ""


@dataclass(frozen=True, slots=True)
class Modification:
    """What to change on an open order; None keeps the current value."""

    quantity: int | None = None
    price: Decimal | None = None
    trigger: Decimal | None = None
    order_type: OrderType | None = None


@runtime_checkable
class Broker(Protocol):
    """What the services need from one broker account. One instance per account and session."""

    name: str

    def login_url(self, state: str) -> str:
        """Where to send the user's browser to log in; ``state`` comes back on the redirect."""
        ...

    def exchange_code(self, code: str) -> Session:
        """Trade the short-lived code from the redirect for a session (checksum rules inside)."""
        ...

    def place(self, request: OrderRequest) -> OrderAck:
        """Send one order. Never resent blindly: an ambiguous failure is resolved by tag."""
        ...

    def status(self, order_id: str) -> OrderState:
        """The order's latest state."""
        ...

    def cancel(self, order_id: str) -> OrderAck:
        """Ask the broker to cancel; the outcome shows in ``status``."""
        ...

    def modify(self, order_id: str, change: Modification, *, request: OrderRequest) -> OrderAck:
        """Change an open order; ``request`` is the original, for dialects that resend fields."""
        ...

    def order_book(self) -> Sequence[OrderState]:
        """Today's orders of the account."""
        ...

    def find_by_tag(self, tag: str) -> Sequence[OrderState]:
        """Today's orders carrying ``tag`` (normally zero or one)."""
        ...

    def positions(self) -> Sequence[Position]:
        """Net positions of the day."""
        ...

    def quotes(self, instruments: Sequence[Instrument]) -> Mapping[ContractKey, Decimal]:
        """Last traded prices, keyed by contract; contracts without a price are left out."""
        ...

    def instruments(self) -> bytes:
        """The raw instrument master, to parse with ``chalicelib.domain.masters``."""
        ...
