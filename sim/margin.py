"""A plausible SPAN-like margin for option baskets, which every fake broker's margin endpoint
answers in its own dialect.

Not the exchange's SPAN file, but the same shape of numbers a trader sees:

* a short option blocks ``SHORT_RATE`` of the underlying's notional less the amount it is out of
  the money, with a floor of ``FLOOR_RATE`` of the notional (deep OTM shorts are never free);
* a long option costs its premium;
* a short hedged by a long of the same underlying, expiry and type (a spread) blocks at most the
  distance between the strikes per unit: the basket's ``benefit``.

Available funds are the account's funds less what its open positions block by the same rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from chalicelib.domain.instrument import ContractKey
from chalicelib.domain.underlying import Underlying

SHORT_RATE = Decimal("0.10")
FLOOR_RATE = Decimal("0.04")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class MarginLeg:
    key: ContractKey
    side: str  # BUY | SELL
    quantity: int  # units
    price: Decimal  # premium per unit


@dataclass(frozen=True)
class Requirement:
    span: Decimal  # the shorts before any hedge benefit
    premium: Decimal  # what the longs cost
    benefit: Decimal  # spread benefit taken off the shorts
    total: Decimal

    @property
    def exposure(self) -> Decimal:
        return Decimal(0)


def _per_unit(key: ContractKey, spot: Decimal) -> Decimal:
    strike = Decimal(key.strike)
    otm = max(Decimal(0), strike - spot if key.option_type == "CE" else spot - strike)
    return max(SHORT_RATE * spot - otm, FLOOR_RATE * spot)


def requirement(legs: Sequence[MarginLeg], spot_of: Callable[[Underlying], Decimal]) -> Requirement:
    """The basket's requirement (pure given ``spot_of``)."""
    span = premium = benefit = Decimal(0)
    longs: dict[tuple[object, ...], list[list[object]]] = {}
    for leg in legs:
        if leg.side == "BUY":
            premium += leg.price * leg.quantity
            group = (leg.key.underlying, leg.key.expiry, leg.key.option_type)
            longs.setdefault(group, []).append([Decimal(leg.key.strike), leg.quantity])
    for leg in (x for x in legs if x.side == "SELL"):
        per_unit = _per_unit(leg.key, spot_of(leg.key.underlying))
        span += per_unit * leg.quantity
        left = leg.quantity
        group = (leg.key.underlying, leg.key.expiry, leg.key.option_type)
        strike = Decimal(leg.key.strike)
        for hedge in sorted(longs.get(group, []), key=lambda h: abs(h[0] - strike)):  # type: ignore[operator]
            if not left:
                break
            units = min(left, int(hedge[1]))  # type: ignore[call-overload]
            if not units:
                continue
            capped = min(per_unit, abs(strike - hedge[0]))  # type: ignore[operator]
            benefit += (per_unit - capped) * units
            hedge[1] = int(hedge[1]) - units  # type: ignore[call-overload]
            left -= units
    total = span - benefit + premium
    return Requirement(span.quantize(CENT), premium.quantize(CENT), benefit.quantize(CENT),
                       total.quantize(CENT))  # fmt: skip


def open_legs(positions: Iterable[object]) -> list[MarginLeg]:
    """Open positions (``sim.positions.Position``) as the legs that block margin now."""
    legs = []
    for p in positions:
        quantity = int(p.quantity)  # type: ignore[attr-defined]
        if quantity:
            side = "BUY" if quantity > 0 else "SELL"
            legs.append(MarginLeg(p.key, side, abs(quantity), p.average_price))  # type: ignore[attr-defined]
    return legs
