"""Orders, trades and the matching rules of the simulated exchange (pure: no clock, no I/O).

An order rests until the option's last price crosses it: a BUY LIMIT fills when the LTP is at or
below its price, a SELL LIMIT when at or above, at the LTP (the best price on offer). A stop order
(SL = trigger then limit, SL-M = trigger then market) waits in TRIGGER_PENDING until the LTP
reaches its trigger (BUY: at or above, SELL: at or below), then behaves as its limit / market
order. A protected MARKET order fills at the LTP. Fills can be capped to a number of lots per
match to simulate thin books (partial fills); the remainder keeps resting, IOC remainders cancel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from chalicelib.domain.instrument import ContractKey
from chalicelib.domain.underlying import OptionType, Underlying


class Status(StrEnum):
    """Canonical order states; each dialect maps them to its own strings."""

    OPEN = "OPEN"
    TRIGGER_PENDING = "TRIGGER_PENDING"
    COMPLETE = "COMPLETE"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"


ACTIVE = frozenset({Status.OPEN, Status.TRIGGER_PENDING})


class OrderType(StrEnum):
    """Canonical order types: SL is stop-limit, SL-M stop-market."""

    MARKET = "MARKET"
    LIMIT = "LIMIT"
    SL = "SL"
    SL_M = "SL-M"


#: Order types that wait for a trigger.
STOP_TYPES = frozenset({OrderType.SL, OrderType.SL_M})
#: The message of a cancellation the account asked for (any other one is the broker's doing).
USER_CANCEL = "cancelled by user"


def broker_reason(status: Status | str, message: str) -> str:
    """Why the broker or exchange ended an order (rejection, RMS cancellation), else "".

    Dialects that only show a reason field for orders the broker ended (Angel ``text``, Dhan
    ``omsErrorDescription``, Noren ``rejreason``) show this.
    """
    if Status(status) is Status.REJECTED:
        return message
    if Status(status) is Status.CANCELLED and message != USER_CANCEL:
        return message
    return ""


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What a dialect asks the exchange to do, already translated to canonical terms.

    ``instrument`` is any name the exchange lists (a broker symbol or token) or a ContractKey.
    ``market_protection`` is a percentage (None = unprotected, -1 = broker's automatic choice).
    """

    instrument: str | ContractKey
    side: str
    quantity: int
    order_type: OrderType = OrderType.LIMIT
    price: Decimal = Decimal(0)
    trigger_price: Decimal = Decimal(0)
    product: str = "NRML"
    validity: str = "DAY"
    tag: str = ""
    market_protection: Decimal | None = None
    variety: str = "regular"


@dataclass(slots=True)
class Order:
    """One order on one account; mutable, with its state history."""

    order_id: str
    account: str
    key: ContractKey
    side: str
    quantity: int
    order_type: OrderType
    price: Decimal
    trigger_price: Decimal
    product: str
    validity: str
    tag: str
    status: Status
    placed_at: datetime
    updated_at: datetime
    lot_size: int
    market_protection: Decimal | None = None
    variety: str = "regular"
    filled_quantity: int = 0
    average_price: Decimal = Decimal(0)
    status_message: str = ""
    reject_code: str = ""
    cancel_on_trigger: bool = False
    max_fill_lots: int | None = None
    hold_until: datetime | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def pending_quantity(self) -> int:
        """Units still to fill (0 once terminal)."""
        return self.quantity - self.filled_quantity if self.status in ACTIVE else 0

    @property
    def cancelled_quantity(self) -> int:
        """Units that will never fill."""
        if self.status in (Status.CANCELLED, Status.REJECTED):
            return self.quantity - self.filled_quantity
        return 0

    def transition(self, status: Status, at: datetime, message: str = "") -> None:
        """Move to ``status`` and record it (every transition is kept, like a broker's history)."""
        self.status = status
        self.updated_at = at
        if message:
            self.status_message = message
        self.history.append(
            {
                "status": str(status),
                "at": at.isoformat(),
                "filled_quantity": self.filled_quantity,
                "average_price": str(self.average_price),
                "price": str(self.price),
                "trigger_price": str(self.trigger_price),
                "quantity": self.quantity,
                "message": message,
            }
        )

    def to_json(self) -> dict[str, Any]:
        """State file form."""
        doc = asdict(self)
        doc["key"] = key_to_json(self.key)
        for name in ("placed_at", "updated_at", "hold_until"):
            value = getattr(self, name)
            doc[name] = None if value is None else value.isoformat()
        for name in ("price", "trigger_price", "average_price", "market_protection"):
            value = getattr(self, name)
            doc[name] = None if value is None else str(value)
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Order:
        """Inverse of ``to_json``."""
        values = dict(doc)
        values["key"] = key_from_json(doc["key"])
        values["status"] = Status(doc["status"])
        values["order_type"] = OrderType(doc["order_type"])
        for name in ("placed_at", "updated_at"):
            values[name] = datetime.fromisoformat(doc[name])
        hold = doc.get("hold_until")
        values["hold_until"] = None if hold is None else datetime.fromisoformat(hold)
        for name in ("price", "trigger_price", "average_price"):
            values[name] = Decimal(doc[name])
        mp = doc.get("market_protection")
        values["market_protection"] = None if mp is None else Decimal(mp)
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Trade:
    """One fill."""

    trade_id: str
    order_id: str
    account: str
    key: ContractKey
    side: str
    quantity: int
    price: Decimal
    product: str
    at: datetime

    def to_json(self) -> dict[str, Any]:
        """State file form."""
        return {
            "trade_id": self.trade_id,
            "order_id": self.order_id,
            "account": self.account,
            "key": key_to_json(self.key),
            "side": self.side,
            "quantity": self.quantity,
            "price": str(self.price),
            "product": self.product,
            "at": self.at.isoformat(),
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Trade:
        """Inverse of ``to_json``."""
        return cls(
            doc["trade_id"],
            doc["order_id"],
            doc["account"],
            key_from_json(doc["key"]),
            doc["side"],
            int(doc["quantity"]),
            Decimal(doc["price"]),
            doc["product"],
            datetime.fromisoformat(doc["at"]),
        )


def key_to_json(key: ContractKey) -> list[str]:
    """ContractKey as a JSON list."""
    return [str(key.underlying), key.expiry.isoformat(), str(key.strike), str(key.option_type)]


def key_from_json(doc: list[str]) -> ContractKey:
    """Inverse of ``key_to_json``."""
    return ContractKey(
        Underlying(doc[0]), date.fromisoformat(doc[1]), Decimal(doc[2]), OptionType(doc[3])
    )


def prices_at(order: Order, state: dict[str, Any] | None) -> tuple[Decimal, Decimal]:
    """(price, trigger price) as of one history entry (``None``: now); history rows show the
    prices the order had then, so a modification shows as the change it was."""
    if state is None:
        return order.price, order.trigger_price
    return (
        Decimal(state.get("price", order.price)),
        Decimal(state.get("trigger_price", order.trigger_price)),
    )


def triggered(order: Order, ltp: Decimal) -> bool:
    """Whether a stop order's trigger has been reached."""
    if order.side == "BUY":
        return ltp >= order.trigger_price
    return ltp <= order.trigger_price


def crosses(order: Order, ltp: Decimal) -> bool:
    """Whether an OPEN order is marketable at ``ltp``."""
    if order.order_type in (OrderType.MARKET, OrderType.SL_M):
        return True
    if order.side == "BUY":
        return ltp <= order.price
    return ltp >= order.price


def fill_quantity(order: Order, cap_lots: int | None) -> int:
    """Units this match fills: everything pending, or at most ``cap_lots`` whole lots."""
    pending = order.quantity - order.filled_quantity
    if cap_lots is None:
        return pending
    return min(pending, max(cap_lots, 1) * order.lot_size)


def apply_fill(order: Order, quantity: int, price: Decimal, at: datetime) -> None:
    """Record a fill on ``order``: average price, filled quantity, status."""
    total = order.average_price * order.filled_quantity + price * quantity
    order.filled_quantity += quantity
    order.average_price = (total / order.filled_quantity).quantize(Decimal("0.01"))
    done = order.filled_quantity >= order.quantity
    if done:
        order.transition(Status.COMPLETE, at)
    elif order.validity == "IOC":
        order.transition(Status.CANCELLED, at, "IOC remainder cancelled")
    else:
        order.transition(Status.OPEN, at, "partially filled")


def match(
    order: Order,
    ltp: Decimal,
    now: datetime,
    *,
    cap_lots: int | None,
    trade_id: Callable[[], str],
) -> Trade | None:
    """One look at a resting order at ``ltp``: trigger a stop (or cancel it, if the broker's
    RMS is to), then fill what crosses, at most ``cap_lots`` lots unless the order carries its
    own cap; a held partial fill waits out its hold. Returns the fill made, if any."""
    if order.status is Status.TRIGGER_PENDING:
        if not triggered(order, ltp):
            return None
        if order.cancel_on_trigger:
            order.transition(Status.CANCELLED, now, "SL order cancelled by the broker (RMS)")
            return None
        order.transition(Status.OPEN, now, "triggered")
    if order.status is not Status.OPEN or not crosses(order, ltp):
        return None
    if order.hold_until is not None and order.filled_quantity and now < order.hold_until:
        return None
    quantity = fill_quantity(
        order, order.max_fill_lots if order.max_fill_lots is not None else cap_lots
    )
    order.max_fill_lots = None
    trade = Trade(
        trade_id(), order.order_id, order.account, order.key, order.side, quantity, ltp,
        order.product, now,
    )  # fmt: skip
    apply_fill(order, quantity, ltp, now)
    return trade
