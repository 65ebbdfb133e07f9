"""Order quantities: lots x multiplier -> units, and slicing at the freeze limit in whole lots.

Quantity sent to a broker is always in UNITS = whole lots x the contract's lot size. A per-account
multiplier may be fractional (0.5 x 3 lots); the result is rounded DOWN to whole lots, never up,
because rounding up would trade more than the user allowed. Zero lots is an error, not a silent
no-op. An order above the freeze limit is rejected by the exchange, so it is sliced into orders of
at most ``freeze // lot`` whole lots (NIFTY: 30 lots of 65 = 1950 units -> 1755 + 195).
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

from chalicelib.domain.contracts import ContractSpec
from chalicelib.domain.market_errors import SizingError
from chalicelib.domain.money import to_decimal

#: Orders sent in one burst; the SEBI retail-algo limit is 10 orders per second per segment.
MAX_ORDERS_PER_BURST = 10


def effective_lots(lots: int, multiplier: Decimal | int | str = 1) -> int:
    """Whole lots after applying ``multiplier``: floor(lots x multiplier); 0 raises."""
    if isinstance(lots, bool) or not isinstance(lots, int) or lots <= 0:
        raise SizingError(f"lots must be a positive whole number, got {lots!r}", field="lots")
    factor = to_decimal(multiplier, field="multiplier")
    if factor <= 0:
        raise SizingError(f"multiplier must be positive, got {factor}", field="multiplier")
    whole = int((lots * factor).to_integral_value(rounding=ROUND_FLOOR))
    if whole == 0:
        raise SizingError(
            f"{lots} lot(s) x multiplier {factor} is less than one whole lot; "
            "raise the lots or the multiplier",
            field="multiplier",
        )
    return whole


def units_for(lots: int, multiplier: Decimal | int | str, lot_size: int) -> int:
    """Units to send: whole lots (rounded down) x the contract's lot size."""
    if lot_size <= 0:
        raise SizingError(f"lot size must be positive, got {lot_size}", field="lot_size")
    return effective_lots(lots, multiplier) * lot_size


def slice_quantity(units: int, lot_size: int, freeze_qty: int) -> list[int]:
    """Split ``units`` into orders of at most ``freeze_qty``, each a whole number of lots.

    Full slices of ``freeze_qty // lot_size`` lots come first, the remainder last.
    """
    if lot_size <= 0 or units <= 0 or units % lot_size:
        raise SizingError(
            f"{units} units is not a positive whole number of lots of {lot_size}", field="quantity"
        )
    max_lots = freeze_qty // lot_size
    if max_lots == 0:
        raise SizingError(
            f"freeze limit {freeze_qty} is below one lot of {lot_size}", field="freeze_qty"
        )
    full, rest = divmod(units // lot_size, max_lots)
    return [max_lots * lot_size] * full + ([rest * lot_size] if rest else [])


def order_slices(lots: int, multiplier: Decimal | int | str, spec: ContractSpec) -> list[int]:
    """Units per child order for ``lots`` x ``multiplier`` of the contract ``spec`` describes."""
    return slice_quantity(
        units_for(lots, multiplier, spec.lot_size), spec.lot_size, spec.freeze_qty
    )


def bursts(slices: list[int], per_burst: int = MAX_ORDERS_PER_BURST) -> list[list[int]]:
    """Group child orders so that no burst exceeds the per-second order limit."""
    if per_burst <= 0:
        raise SizingError("per_burst must be positive", field="per_burst")
    return [slices[i : i + per_burst] for i in range(0, len(slices), per_burst)]
