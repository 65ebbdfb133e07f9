"""Protected LIMIT prices: turning "buy/sell at market" into a limit the exchange accepts.

MARKET orders on index options need protection and bare SL-M is not allowed, so the platform
sends a LIMIT at the last traded price plus a buffer (BUY) or minus it (SELL). The buffer comes
from premium slabs in ``protection_slabs.json``. The price is snapped to the 0.05 tick in the
protective direction (UP for a BUY, DOWN for a SELL, so the buffer never shrinks), then kept
inside the exchange's limit-price band (+-40% of the reference above Rs 50, +-Rs 20 at or below)
by snapping the band edge inwards, and a SELL is never priced below one tick.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache

from chalicelib.domain.market_errors import InvalidRuleValue, MarketDataError, ReferenceDataError
from chalicelib.domain.money import TICK, Rounding, snap_to_tick, to_decimal
from chalicelib.domain.reference_data import (
    as_date,
    as_decimal,
    field,
    in_force,
    load_data_file,
    sorted_by_effective_date,
)

BUY, SELL = "BUY", "SELL"


@dataclass(frozen=True, slots=True)
class Slab:
    """Buffer for premiums up to ``up_to`` (None = unbounded): max(pct of LTP, min_buffer)."""

    up_to: Decimal | None
    buffer_pct: Decimal
    min_buffer: Decimal

    def buffer(self, ltp: Decimal) -> Decimal:
        """The buffer for ``ltp`` in rupees."""
        return max(ltp * self.buffer_pct / 100, self.min_buffer)


@dataclass(frozen=True, slots=True)
class Band:
    """The exchange's limit-price band around a reference price."""

    threshold: Decimal
    pct_above: Decimal
    abs_below: Decimal

    def limits(self, reference: Decimal) -> tuple[Decimal, Decimal]:
        """(lowest, highest) acceptable limit price for ``reference``."""
        width = reference * self.pct_above / 100 if reference > self.threshold else self.abs_below
        return reference - width, reference + width


@dataclass(frozen=True, slots=True)
class ProtectionPolicy:
    """Slabs (ascending) and band in force from ``effective_from``."""

    effective_from: date
    slabs: Sequence[Slab]
    band: Band

    def slab_for(self, ltp: Decimal) -> Slab:
        """The first slab whose upper bound is at or above ``ltp`` (the last one is unbounded)."""
        for slab in self.slabs[:-1]:
            if slab.up_to is not None and ltp <= slab.up_to:
                return slab
        return self.slabs[-1]


def policies_from_document(document: dict) -> list[ProtectionPolicy]:
    """Parse and validate ``protection_slabs.json``: ascending slabs ending unbounded."""
    policies = []
    for i, entry in enumerate(document["entries"]):
        where = f"protection_slabs.json entries[{i}]"
        slabs = [
            Slab(
                None if s.get("up_to") is None else field(s, "up_to", where, as_decimal),
                field(s, "buffer_pct", where, as_decimal),
                field(s, "min_buffer", where, as_decimal),
            )
            for s in field(entry, "slabs", where, list)
        ]
        bounds = [s.up_to for s in slabs[:-1]]
        ascending = all(
            a is not None and b is not None and a < b for a, b in itertools.pairwise(bounds)
        )
        if not slabs or slabs[-1].up_to is not None or None in bounds or not ascending:
            raise ReferenceDataError(f"{where}: slabs must ascend and end unbounded", field="slabs")
        if any(s.buffer_pct <= 0 or s.min_buffer < 0 for s in slabs):
            raise ReferenceDataError(f"{where}: buffers must be positive", field="slabs")
        raw_band = field(entry, "band", where, dict)
        band = Band(
            *(
                field(raw_band, k, where, as_decimal)
                for k in ("threshold", "pct_above", "abs_below")
            )
        )
        policies.append(
            ProtectionPolicy(field(entry, "effective_from", where, as_date), slabs, band)
        )
    return sorted_by_effective_date(policies, "protection_slabs")


@cache
def default_protection_policies() -> tuple[ProtectionPolicy, ...]:
    """Policies from the packaged data (loaded on first use)."""
    return tuple(policies_from_document(load_data_file("protection_slabs")))


def protected_limit_price(
    side: str,
    ltp: Decimal | int | str,
    *,
    on: date,
    tick: Decimal = TICK,
    policy: ProtectionPolicy | None = None,
) -> Decimal:
    """A LIMIT price for ``side`` ("BUY"/"SELL", e.g. ``strategy.Side``) from the LTP on ``on``.

    BUY: LTP + buffer snapped up, capped at the band's upper edge snapped down.
    SELL: LTP - buffer snapped down, floored at the band's lower edge snapped up and one tick.
    """
    if side not in (BUY, SELL):
        raise InvalidRuleValue(f"side must be BUY or SELL, got {side!r}", field="side")
    price = to_decimal(ltp, field="ltp")
    if price <= 0:
        raise MarketDataError(f"no usable last price ({price}) to protect from", field="ltp")
    rules = policy or in_force(default_protection_policies(), on, "protection policy")
    buffer = rules.slab_for(price).buffer(price)
    low, high = rules.band.limits(price)
    if side == BUY:
        return min(
            snap_to_tick(price + buffer, tick, Rounding.UP), snap_to_tick(high, tick, Rounding.DOWN)
        )
    floor = max(snap_to_tick(low, tick, Rounding.UP), tick)
    return max(snap_to_tick(price - buffer, tick, Rounding.DOWN), floor)
