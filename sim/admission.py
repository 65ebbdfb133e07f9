"""The exchange's checks on a request, in the order a broker applies them.

Before the ack (``check_request``, ``check_modification``): what never becomes an order raises
``OrderRefused``. After the ack (``rms_rejection``): RMS and exchange checks (injected RMS
rejection, price band, margin) leave an order id that shows REJECTED. Armed faults are taken in
that order too, so a fault that a refusal pre-empts stays armed for the next order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from chalicelib.domain.instrument import Instrument
from chalicelib.domain.money import is_on_tick
from chalicelib.domain.protection import default_protection_policies
from chalicelib.domain.reference_data import in_force
from chalicelib.domain.underlying import Underlying
from sim.errors import OrderRefused
from sim.faults import Fault, FaultBook
from sim.orderbook import ACTIVE, STOP_TYPES, Order, OrderRequest, OrderType, Status

#: Margin a short option blocks, as a fraction of the notional (a rough SPAN + exposure figure).
SHORT_MARGIN_RATE = Decimal("0.12")
LIMIT_TYPES = (OrderType.LIMIT, OrderType.SL)
MARKET_TYPES = (OrderType.MARKET, OrderType.SL_M)


def check_request(
    account: str,
    request: OrderRequest,
    instrument: Instrument,
    faults: FaultBook,
    *,
    require_market_protection: bool,
) -> None:
    """Refuse a request that never becomes an order (``OrderRefused``)."""
    if faults.take(account, Fault.DUPLICATE_TAG) is not None:
        raise OrderRefused("duplicate_tag", f"Duplicate order tag: {request.tag}")
    if request.side not in ("BUY", "SELL"):
        raise OrderRefused("input", f"Invalid transaction type: {request.side}")
    if request.quantity <= 0:
        raise OrderRefused("input", "Quantity must be positive")
    freeze = instrument.freeze_qty or 0
    if faults.take(account, Fault.FREEZE_QTY) is not None or (freeze and request.quantity > freeze):
        raise OrderRefused(
            "freeze_qty", f"Quantity {request.quantity} exceeds the freeze limit of {freeze}"
        )
    if faults.take(account, Fault.LOT_SIZE) is not None or request.quantity % instrument.lot_size:
        raise OrderRefused(
            "lot_size", f"Quantity should be a multiple of the lot size {instrument.lot_size}"
        )
    for name in ("price", "trigger_price"):
        value = getattr(request, name)
        if value < 0 or not is_on_tick(value, instrument.tick_size):
            raise OrderRefused(
                "tick", f"{name} {value} is not a multiple of tick {instrument.tick_size}"
            )
    _check_prices(request.order_type, request.price, request.trigger_price)
    unprotected = request.market_protection is None or request.market_protection == 0
    if request.order_type in MARKET_TYPES and (
        faults.take(account, Fault.MARKET_REFUSED) is not None
        or (require_market_protection and unprotected)
    ):
        raise OrderRefused(
            "market_refused", "Market orders without market protection are not allowed"
        )


def _check_prices(order_type: OrderType, price: Decimal, trigger_price: Decimal) -> None:
    if order_type in LIMIT_TYPES and price <= 0:
        raise OrderRefused("input", "Price must be positive for a limit order")
    if order_type in STOP_TYPES and trigger_price <= 0:
        raise OrderRefused("input", "Trigger price must be positive for a stop order")


def rms_rejection(
    order: Order,
    ltp: Decimal,
    faults: FaultBook,
    *,
    funds: Decimal | None,
    spot: Callable[[Underlying], Decimal],
) -> tuple[str, str] | None:
    """``(code, message)`` of the RMS / exchange check an acked order fails, else None.
    ``funds`` None skips the margin check (the exchange checks margin only when asked)."""
    if faults.take(order.account, Fault.RMS_REJECT) is not None:
        return "rms", "RMS:Rule: Check circuit limit including square off order"
    now = order.placed_at
    if order.order_type in LIMIT_TYPES and not _in_band(order.price, ltp, now.date()):
        return "price_band", f"Price {order.price} is outside the price band around {ltp}"
    if funds is not None and not _margin_ok(order, ltp, funds, spot):
        return "margin", "RMS:Margin Exceeds, Required margin is insufficient"
    return None


def _in_band(price: Decimal, ltp: Decimal, on: date) -> bool:
    policy = in_force(default_protection_policies(), on, "protection policy")
    low, high = policy.band.limits(ltp)
    return low <= price <= high


def _margin_ok(
    order: Order, ltp: Decimal, funds: Decimal, spot: Callable[[Underlying], Decimal]
) -> bool:
    if order.side == "BUY":
        needed = (order.price or ltp) * order.quantity
    else:
        needed = spot(order.key.underlying) * order.quantity * SHORT_MARGIN_RATE
    return needed <= funds


def rest(order: Order, faults: FaultBook, now: datetime) -> None:
    """An admitted order rests (stops wait for their trigger), with its armed order faults:
    a partial fill caps the first match and holds the rest; an SL-cancel drops it on trigger."""
    partial = faults.take(order.account, Fault.PARTIAL_FILL)
    if partial is not None:
        ratio = Decimal(str(partial.get("ratio", "0.5")))
        lots = order.quantity // order.lot_size
        order.max_fill_lots = max(1, int(lots * ratio))
        order.hold_until = now + timedelta(seconds=float(partial.get("hold", 60)))
    if order.order_type in STOP_TYPES:
        if faults.take(order.account, Fault.SL_CANCELLED) is not None:
            order.cancel_on_trigger = True
        order.transition(Status.TRIGGER_PENDING, now)
    else:
        order.transition(Status.OPEN, now)


@dataclass(frozen=True, slots=True)
class Modification:
    """A checked change of an open order: its new terms and the status it rests in."""

    quantity: int
    price: Decimal
    trigger_price: Decimal
    order_type: OrderType
    status: Status


def check_modification(
    order: Order,
    *,
    quantity: int | None,
    price: Decimal | None,
    trigger_price: Decimal | None,
    order_type: OrderType | None,
) -> Modification:
    """The order's terms after the change; ``OrderRefused`` if it is terminal or invalid."""
    if order.status not in ACTIVE:
        raise OrderRefused("state", f"Order cannot be modified as it is {order.status.lower()}")
    if quantity is not None and (
        quantity <= 0 or quantity % order.lot_size or quantity < order.filled_quantity
    ):
        raise OrderRefused("lot_size", "Invalid quantity for modification")
    for name, value in (("price", price), ("trigger_price", trigger_price)):
        if value is not None and (value < 0 or not is_on_tick(value)):
            raise OrderRefused("tick", f"{name} {value} is not on the tick")
    new_type = order.order_type if order_type is None else order_type
    new_price = order.price if price is None else price
    new_trigger = order.trigger_price if trigger_price is None else trigger_price
    _check_prices(new_type, new_price, new_trigger)
    status = order.status
    if new_type is not order.order_type:
        if new_type not in STOP_TYPES:
            status = Status.OPEN  # a stop turned limit / market rests as one
        elif order.order_type not in STOP_TYPES and not order.filled_quantity:
            status = Status.TRIGGER_PENDING  # an untouched limit turned stop waits
    return Modification(
        order.quantity if quantity is None else quantity, new_price, new_trigger, new_type, status
    )
