"""Contract specifications: lot size, strike step, tick and freeze limit for one option contract.

The lot size belongs to the *contract*: a revision applies to contracts expiring on or after its
``expiry_from`` and only from its ``effective_from`` trading date, so during a revision two lot
sizes coexist (in mid-December 2025 the NIFTY Dec-30 contract trades in lots of 75 while the
January weeklies trade in lots of 65). The freeze limit belongs to the *order date*. Both are
dated data (``lot_sizes.json``, ``freeze_limits.json``, ``strike_steps.json``); the instrument
master, when loaded, wins over the computed lot size (see ``market_model``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache

from chalicelib.domain.market_errors import MarketDataError, ReferenceDataError
from chalicelib.domain.reference_data import (
    as_date,
    as_decimal,
    as_positive_int,
    as_underlying_map,
    field,
    in_force,
    load_data_file,
    sorted_by_effective_date,
)
from chalicelib.domain.underlying import Exchange, Underlying


@dataclass(frozen=True, slots=True)
class ContractSpec:
    """Trading parameters of one (underlying, expiry) option series on one order date."""

    underlying: Underlying
    expiry: date
    exchange: Exchange
    lot_size: int
    strike_step: Decimal
    tick_size: Decimal
    freeze_qty: int

    @property
    def max_lots_per_order(self) -> int:
        """Whole lots that fit under the freeze limit (NIFTY 1800 // 65 = 27)."""
        return self.freeze_qty // self.lot_size


@dataclass(frozen=True, slots=True)
class LotSizeRevision:
    """Lot sizes for contracts expiring from ``expiry_from``, in force from ``effective_from``."""

    effective_from: date
    expiry_from: date
    lot_sizes: Mapping[Underlying, int]


@dataclass(frozen=True, slots=True)
class FreezeLimits:
    """Maximum units per order, by order date."""

    effective_from: date
    freeze_qty: Mapping[Underlying, int]


@dataclass(frozen=True, slots=True)
class StrikeGrid:
    """Strike interval and tick size, by date."""

    effective_from: date
    strike_step: Mapping[Underlying, Decimal]
    tick_size: Decimal


def _complete(mapping: Mapping[Underlying, object], where: str, name: str) -> None:
    missing = set(Underlying) - set(mapping)
    if missing:
        raise ReferenceDataError(f"{where}: no {name} for {sorted(missing)}", field=name)


class ContractRules:
    """Lot-size revisions, freeze limits and strike grids, queried by contract and date."""

    def __init__(
        self,
        lot_revisions: list[LotSizeRevision],
        freeze_limits: list[FreezeLimits],
        strike_grids: list[StrikeGrid],
    ) -> None:
        self._lots = sorted_by_effective_date(lot_revisions, "lot_sizes")
        self._freeze = sorted_by_effective_date(freeze_limits, "freeze_limits")
        self._grids = sorted_by_effective_date(strike_grids, "strike_steps")

    def lot_size(self, underlying: Underlying, expiry: date, on: date) -> int:
        """Lot size of the contract expiring ``expiry`` as traded on ``on``.

        The latest revision that is in force on ``on`` and covers ``expiry`` wins.
        """
        chosen: int | None = None
        for revision in self._lots:
            if revision.effective_from > on:
                break
            if expiry >= revision.expiry_from and underlying in revision.lot_sizes:
                chosen = revision.lot_sizes[underlying]
        if chosen is None:
            raise MarketDataError(
                f"no lot size for {underlying} expiring {expiry} traded on {on}", field="expiry"
            )
        return chosen

    def freeze_qty(self, underlying: Underlying, on: date) -> int:
        """Freeze limit (units per order) in force on order date ``on``."""
        return in_force(self._freeze, on, "freeze limit").freeze_qty[underlying]

    def grid(self, on: date) -> StrikeGrid:
        """Strike interval and tick size in force on ``on``."""
        return in_force(self._grids, on, "strike grid")

    def spec(self, underlying: Underlying, expiry: date, on: date) -> ContractSpec:
        """Assemble the ``ContractSpec`` of one contract on one order date."""
        grid = self.grid(on)
        return ContractSpec(
            underlying=underlying,
            expiry=expiry,
            exchange=underlying.exchange,
            lot_size=self.lot_size(underlying, expiry, on),
            strike_step=grid.strike_step[underlying],
            tick_size=grid.tick_size,
            freeze_qty=self.freeze_qty(underlying, on),
        )


def contract_rules_from_documents(lots: dict, freeze: dict, steps: dict) -> ContractRules:
    """Parse and validate the three data documents (already shape-checked)."""
    revisions = []
    for i, e in enumerate(lots["entries"]):
        where = f"lot_sizes.json entries[{i}]"
        revisions.append(
            LotSizeRevision(
                field(e, "effective_from", where, as_date),
                field(e, "expiry_from", where, as_date),
                field(e, "lot_sizes", where, as_underlying_map(as_positive_int)),
            )
        )
    limits = []
    for i, e in enumerate(freeze["entries"]):
        where = f"freeze_limits.json entries[{i}]"
        qty = field(e, "freeze_qty", where, as_underlying_map(as_positive_int))
        _complete(qty, where, "freeze_qty")
        limits.append(FreezeLimits(field(e, "effective_from", where, as_date), qty))
    grids = []
    for i, e in enumerate(steps["entries"]):
        where = f"strike_steps.json entries[{i}]"
        step = field(e, "strike_step", where, as_underlying_map(as_decimal))
        tick = field(e, "tick_size", where, as_decimal)
        _complete(step, where, "strike_step")
        if tick <= 0 or any(s <= 0 or s % tick for s in step.values()):
            raise ReferenceDataError(f"{where}: steps must be positive multiples of the tick")
        grids.append(StrikeGrid(field(e, "effective_from", where, as_date), step, tick))
    _complete(revisions[0].lot_sizes if revisions else {}, "lot_sizes.json", "lot_sizes")
    return ContractRules(revisions, limits, grids)


@cache
def default_contract_rules() -> ContractRules:
    """Contract rules from the packaged data (loaded on first use, cached per process)."""
    return contract_rules_from_documents(
        load_data_file("lot_sizes"), load_data_file("freeze_limits"), load_data_file("strike_steps")
    )


def contract_spec(
    underlying: Underlying,
    expiry: date,
    on: date | None = None,
    *,
    rules: ContractRules | None = None,
) -> ContractSpec:
    """The computed spec of ``underlying``'s contract expiring ``expiry``, traded on ``on``.

    ``on`` defaults to the expiry date (the lot the contract ends its life with). Order building
    must pass the order date, because a revision may not yet apply to an already-listed contract.
    """
    return (rules or default_contract_rules()).spec(underlying, expiry, on or expiry)
