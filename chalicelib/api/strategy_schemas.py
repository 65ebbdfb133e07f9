"""Request schemas of a strategy (``POST /strategies``, ``PUT /strategies/{id}``) and their
translation into the domain model.

Shapes, types, enums and ranges only: the rules that need the market model or several fields are
``domain/strategy_checks.py``. The bodies extend ``schemas.Strict`` (unknown fields refused, no
control or bidi characters, no coercion of ints and bools).
"""

from __future__ import annotations

import re
from datetime import time
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, StrictBool, StrictInt, field_validator

from chalicelib.api.schemas import Identifier, Strict, Text
from chalicelib.domain.expiry import ExpiryChoice
from chalicelib.domain.strategy import (
    DEFAULT_MAX_ENTRY_DELAY,
    MAX_DTE,
    MAX_ENTRY_DELAY,
    Allocation,
    ExitReason,
    Leg,
    LockAndTrail,
    MtmScope,
    OnLegFailure,
    Product,
    ReEntry,
    ReEntryMode,
    RiskLevel,
    RiskUnit,
    Side,
    Strategy,
    StrategyRisk,
    StrikeRule,
    Trailing,
    Weekday,
)
from chalicelib.domain.strike_selection import StrikeMethod
from chalicelib.domain.underlying import OptionType, Underlying
from chalicelib.domain.wait_and_trade import WaitAndTrade, WaitDirection, WaitUnit

_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$")

Money = Annotated[Decimal, Field(gt=0, le=Decimal("100000000"), allow_inf_nan=False)]
Multiplier = Annotated[
    Decimal, Field(gt=0, le=100, max_digits=6, decimal_places=2, allow_inf_nan=False)
]


def _clock_time(value: str) -> time:
    if not isinstance(value, str) or not _CLOCK.match(value):
        raise ValueError("must be an IST clock time HH:MM:SS")
    return time.fromisoformat(value if len(value) == 8 else value + ":00")


class AllocationIn(Strict):
    account_id: Identifier
    multiplier: Multiplier = Decimal(1)

    def to_domain(self) -> Allocation:
        return Allocation(self.account_id, self.multiplier)


class StrikeIn(Strict):
    method: StrikeMethod
    value: Annotated[Decimal, Field(allow_inf_nan=False)] = Decimal(0)


class RiskLevelIn(Strict):
    type: RiskUnit
    value: Money

    def to_domain(self) -> RiskLevel:
        return RiskLevel(self.type, self.value)


class UnderlyingLevelIn(Strict):
    """A move of the underlying index from its level at entry."""

    type: Annotated[
        Literal["POINTS", "PERCENT"],
        Field(description="index points, or percent of the index level at entry"),
    ]
    value: Money

    def to_domain(self) -> RiskLevel:
        return RiskLevel(RiskUnit(self.type), self.value)


class TrailingIn(Strict):
    every: Annotated[Money, Field(description="favourable move, in the stop-loss's unit")]
    by: Annotated[Money, Field(description="how far the stop tightens per step")]

    def to_domain(self) -> Trailing:
        return Trailing(self.every, self.by)


class ReEntryIn(Strict):
    mode: ReEntryMode
    max_count: Annotated[StrictInt, Field(ge=1, le=10)] = 1
    # pydantic copies a mutable default per instance (ruff cannot see Strict is a BaseModel).
    on: Annotated[list[Literal["STOP_LOSS", "TARGET"]], Field(min_length=1, max_length=2)] = [  # noqa: RUF012
        "STOP_LOSS"
    ]

    def to_domain(self) -> ReEntry:
        return ReEntry(
            self.mode, self.max_count, tuple(ExitReason(r) for r in dict.fromkeys(self.on))
        )


class WaitAndTradeIn(Strict):
    """Enter the leg only once its premium has moved from its premium at the entry time."""

    direction: Annotated[WaitDirection, Field(description="UP: a rise, DOWN: a fall")]
    type: Annotated[
        WaitUnit, Field(description="premium points, or percent of the premium at entry time")
    ]
    value: Annotated[Money, Field(description="the move; a percent at most 100")]
    until: Annotated[
        str,
        Field(description="IST HH:MM:SS: not entered by then, the leg is skipped and the "
              "strategy's on_leg_failure decides the rest", examples=["10:30:00"]),
    ]  # fmt: skip

    _until = field_validator("until")(lambda cls, v: _clock_time(v).isoformat())

    def to_domain(self) -> WaitAndTrade:
        return WaitAndTrade(self.direction, self.type, self.value, time.fromisoformat(self.until))


class LockAndTrailIn(Strict):
    reach: Money
    lock: Money
    every: Money | None = None
    by: Money | None = None

    def to_domain(self) -> LockAndTrail:
        return LockAndTrail(self.reach, self.lock, self.every, self.by)


class LegIn(Strict):
    side: Side
    option_type: OptionType
    strike: StrikeIn
    lots: Annotated[StrictInt, Field(ge=1, le=10000)]
    allocations: Annotated[list[AllocationIn], Field(min_length=1, max_length=20)] | None = None
    stop_loss: RiskLevelIn | None = None
    target: RiskLevelIn | None = None
    trailing: TrailingIn | None = None
    re_entry: ReEntryIn | None = None
    wait_and_trade: WaitAndTradeIn | None = None

    def to_domain(self) -> Leg:
        return Leg(
            side=self.side,
            option_type=self.option_type,
            strike=StrikeRule(self.strike.method, self.strike.value),
            lots=self.lots,
            allocations=(
                None if self.allocations is None else tuple(a.to_domain() for a in self.allocations)
            ),
            stop_loss=self.stop_loss.to_domain() if self.stop_loss else None,
            target=self.target.to_domain() if self.target else None,
            trailing=self.trailing.to_domain() if self.trailing else None,
            re_entry=self.re_entry.to_domain() if self.re_entry else None,
            wait_and_trade=self.wait_and_trade.to_domain() if self.wait_and_trade else None,
        )


class EntryIn(Strict):
    time: Annotated[str, Field(description="IST HH:MM:SS", examples=["09:20:00"])]
    days: Annotated[list[Weekday], Field(min_length=1, max_length=5)]
    dte: (
        Annotated[
            list[Annotated[StrictInt, Field(ge=0, le=MAX_DTE)]],
            Field(
                min_length=1,
                max_length=MAX_DTE + 1,
                description="run only when the resolved expiry is this many trading days away "
                "(0 = expiry day); absent: every entry day",
                examples=[[0, 1]],
            ),
        ]
        | None
    ) = None

    _time = field_validator("time")(lambda cls, v: _clock_time(v).isoformat())

    @field_validator("days")
    @classmethod
    def _unique_days(cls, days: list[Weekday]) -> list[Weekday]:
        if len(set(days)) != len(days):
            raise ValueError("days must not repeat")
        return days

    @field_validator("dte")
    @classmethod
    def _unique_dte(cls, dte: list[int] | None) -> list[int] | None:
        if dte is not None and len(set(dte)) != len(dte):
            raise ValueError("dte must not repeat")
        return None if dte is None else sorted(dte)


class ExitIn(Strict):
    time: Annotated[str, Field(description="IST HH:MM:SS", examples=["15:15:00"])]
    days: Annotated[list[Weekday], Field(min_length=1, max_length=5)] | None = None

    _time = field_validator("time")(lambda cls, v: _clock_time(v).isoformat())


class RiskIn(Strict):
    mtm_stop_loss: Money | None = None
    mtm_target: Money | None = None
    on_leg_failure: OnLegFailure = OnLegFailure.UNWIND
    mtm_scope: MtmScope = MtmScope.STRATEGY
    lock_and_trail: LockAndTrailIn | None = None
    move_sl_to_cost: StrictBool = False
    no_re_entry_after: Annotated[str, Field(description="IST HH:MM:SS")] | None = None
    underlying_stop_loss: (
        Annotated[
            UnderlyingLevelIn,
            Field(description="close the strategy when the index moves this far against it "
                  "from its level at entry (against: the legs' net lean; neutral: either way)"),
        ]
        | None
    ) = None  # fmt: skip
    underlying_target: (
        Annotated[
            UnderlyingLevelIn,
            Field(description="close the strategy when the index moves this far its way "
                  "(refused for legs that lean neither way)"),
        ]
        | None
    ) = None  # fmt: skip
    margin_check: Annotated[
        StrictBool,
        Field(description="ask each account's broker for the basket margin before the entry "
              "and skip an account whose funds do not cover it"),
    ] = True  # fmt: skip

    _cutoff = field_validator("no_re_entry_after")(
        lambda cls, v: None if v is None else _clock_time(v).isoformat()
    )


class StrategyIn(Strict):
    basket_id: Identifier
    name: Text
    underlying: Underlying
    expiry: ExpiryChoice
    product: Product
    entry: EntryIn
    exit: ExitIn
    allocations: Annotated[list[AllocationIn], Field(max_length=20)] = []  # noqa: RUF012 (as above)
    legs: Annotated[list[LegIn], Field(min_length=1, max_length=10)]
    risk: RiskIn = RiskIn()
    max_entry_delay_seconds: Annotated[
        int,
        Field(ge=0, le=MAX_ENTRY_DELAY, strict=True,
              description="an entry not sent this many seconds after its time is missed"),
    ] = DEFAULT_MAX_ENTRY_DELAY  # fmt: skip

    def to_domain(self) -> Strategy:
        return Strategy(
            basket_id=self.basket_id,
            name=self.name,
            underlying=self.underlying,
            expiry=self.expiry,
            product=self.product,
            entry_time=time.fromisoformat(self.entry.time),
            entry_days=tuple(self.entry.days),
            entry_dte=None if self.entry.dte is None else tuple(self.entry.dte),
            exit_time=time.fromisoformat(self.exit.time),
            exit_days=tuple(self.exit.days or self.entry.days),
            allocations=tuple(a.to_domain() for a in self.allocations),
            legs=tuple(leg.to_domain() for leg in self.legs),
            max_entry_delay_seconds=self.max_entry_delay_seconds,
            risk=StrategyRisk(
                mtm_stop_loss=self.risk.mtm_stop_loss,
                mtm_target=self.risk.mtm_target,
                on_leg_failure=self.risk.on_leg_failure,
                mtm_scope=self.risk.mtm_scope,
                lock_and_trail=(
                    self.risk.lock_and_trail.to_domain() if self.risk.lock_and_trail else None
                ),
                move_sl_to_cost=self.risk.move_sl_to_cost,
                margin_check=self.risk.margin_check,
                no_re_entry_after=(
                    time.fromisoformat(self.risk.no_re_entry_after)
                    if self.risk.no_re_entry_after
                    else None
                ),
                underlying_stop_loss=(
                    self.risk.underlying_stop_loss.to_domain()
                    if self.risk.underlying_stop_loss
                    else None
                ),
                underlying_target=(
                    self.risk.underlying_target.to_domain() if self.risk.underlying_target else None
                ),
            ),
        )


class StrategyPut(StrategyIn):
    version: StrictInt | None = None
