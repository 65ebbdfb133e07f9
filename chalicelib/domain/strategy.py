"""The strategy a trader defines: legs, timing, broker allocations and risk.

The model only: the rules it obeys are checked in ``strategy_checks.py`` and its stored form is
``strategy_documents.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, time
from decimal import Decimal
from enum import StrEnum

from chalicelib.domain.expiry import ExpiryChoice
from chalicelib.domain.strike_selection import StrikeMethod
from chalicelib.domain.underlying import OptionType, Underlying
from chalicelib.domain.wait_and_trade import WaitAndTrade

MAX_LEGS = 10


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


class Product(StrEnum):
    MIS = "MIS"  # intraday: squared off the same day
    NRML = "NRML"  # carry forward


class Weekday(StrEnum):
    MON = "MON"
    TUE = "TUE"
    WED = "WED"
    THU = "THU"
    FRI = "FRI"

    @classmethod
    def of(cls, day: date) -> Weekday:
        return list(cls)[day.weekday()]


class Phase(StrEnum):
    ENTRY = "ENTRY"
    EXIT = "EXIT"


class RiskUnit(StrEnum):
    POINTS = "POINTS"
    PERCENT = "PERCENT"
    ABSOLUTE = "ABSOLUTE"


class OnLegFailure(StrEnum):
    UNWIND = "UNWIND"
    KEEP = "KEEP"


class ReEntryMode(StrEnum):
    RE_ASAP = "RE_ASAP"  # re-enter the same contract as soon as the leg is out
    RE_COST = "RE_COST"  # wait until the premium returns to the leg's entry price
    RE_EXECUTE = "RE_EXECUTE"  # enter again at once, the strike resolved afresh (a new contract)


class ExitReason(StrEnum):
    """Why a leg or a whole strategy was closed before (or at) its exit time."""

    STOP_LOSS = "STOP_LOSS"
    TARGET = "TARGET"
    MTM_STOP_LOSS = "MTM_STOP_LOSS"
    MTM_TARGET = "MTM_TARGET"
    MTM_LOCKED_PROFIT = "MTM_LOCKED_PROFIT"
    UNDERLYING_STOP_LOSS = "UNDERLYING_STOP_LOSS"
    UNDERLYING_TARGET = "UNDERLYING_TARGET"
    EXIT_TIME = "EXIT_TIME"
    KILL_SWITCH = "KILL_SWITCH"
    #: A waiting leg (wait and trade) reached its deadline; on_leg_failure UNWIND closes the rest.
    LEG_SKIPPED = "LEG_SKIPPED"


class MtmScope(StrEnum):
    STRATEGY = "STRATEGY"  # the strategy's combined P&L over every account
    ACCOUNT = "ACCOUNT"  # each account's share on its own


class StrategyStatus(StrEnum):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"


@dataclass(frozen=True)
class StrikeRule:
    method: StrikeMethod
    value: Decimal


@dataclass(frozen=True)
class RiskLevel:
    unit: RiskUnit
    value: Decimal


@dataclass(frozen=True)
class Trailing:
    """Every ``every`` of favourable move, tighten the stop by ``by`` (the stop-loss's unit;
    ABSOLUTE stops trail in points)."""

    every: Decimal
    by: Decimal


@dataclass(frozen=True)
class ReEntry:
    mode: ReEntryMode
    max_count: int
    on: tuple[ExitReason, ...] = (ExitReason.STOP_LOSS,)


@dataclass(frozen=True)
class LockAndTrail:
    """Once the strategy's profit reaches ``reach``, exit if it falls back to ``lock``; every
    further ``every`` of profit raises that floor by ``by`` (both optional)."""

    reach: Decimal
    lock: Decimal
    every: Decimal | None = None
    by: Decimal | None = None


@dataclass(frozen=True)
class Allocation:
    account_id: str
    multiplier: Decimal


@dataclass(frozen=True)
class Leg:
    side: Side
    option_type: OptionType
    strike: StrikeRule
    lots: int
    allocations: tuple[Allocation, ...] | None = None
    stop_loss: RiskLevel | None = None
    target: RiskLevel | None = None
    trailing: Trailing | None = None
    re_entry: ReEntry | None = None
    #: Enter only once the premium has moved this far from the entry time's (the monitor does).
    wait_and_trade: WaitAndTrade | None = None

    @property
    def guarded(self) -> bool:
        """True when the leg has a rule the price monitor must watch."""
        return self.stop_loss is not None or self.target is not None


@dataclass(frozen=True)
class StrategyRisk:
    mtm_stop_loss: Decimal | None = None
    mtm_target: Decimal | None = None
    on_leg_failure: OnLegFailure = OnLegFailure.UNWIND
    mtm_scope: MtmScope = MtmScope.STRATEGY
    lock_and_trail: LockAndTrail | None = None
    move_sl_to_cost: bool = False
    no_re_entry_after: time | None = None
    #: Exits on the underlying's move from its level at entry (POINTS or PERCENT); which way is
    #: adverse follows the legs' net direction (``domain.underlying_exit``).
    underlying_stop_loss: RiskLevel | None = None
    underlying_target: RiskLevel | None = None
    #: Ask the broker for the basket margin before an entry (services/margin_check.py).
    margin_check: bool = True

    @property
    def watches_mtm(self) -> bool:
        return any(
            x is not None for x in (self.mtm_stop_loss, self.mtm_target, self.lock_and_trail)
        )

    @property
    def watches_underlying(self) -> bool:
        return self.underlying_stop_loss is not None or self.underlying_target is not None


@dataclass(frozen=True)
class AccountLeg:
    """One leg as one account trades it (leg-level allocation already applied)."""

    index: int
    leg: Leg
    multiplier: Decimal


DEFAULT_MAX_ENTRY_DELAY = 30
MAX_ENTRY_DELAY = 300
#: The furthest days-to-expiry filter value: a monthly is at most ~23 trading days away, next
#: month's at most ~45.
MAX_DTE = 45


@dataclass(frozen=True)
class Strategy:
    basket_id: str
    name: str
    underlying: Underlying
    expiry: ExpiryChoice
    product: Product
    entry_time: time
    entry_days: tuple[Weekday, ...]
    exit_time: time
    exit_days: tuple[Weekday, ...]
    allocations: tuple[Allocation, ...]
    legs: tuple[Leg, ...]
    risk: StrategyRisk = field(default_factory=StrategyRisk)
    #: An entry not sent this long after its time is not sent at all (recorded MISSED): a late
    #: fill at another price is a different trade than the one the trader configured.
    max_entry_delay_seconds: int = DEFAULT_MAX_ENTRY_DELAY
    #: Enter only when the resolved expiry is one of these many trading days away (0 = expiry
    #: day); None: every entry day. The exit still runs (it closes what is held).
    entry_dte: tuple[int, ...] | None = None

    def allocations_of(self, leg: Leg) -> tuple[Allocation, ...]:
        return leg.allocations if leg.allocations is not None else self.allocations

    def account_ids(self) -> list[str]:
        seen: dict[str, None] = {}
        for leg in self.legs:
            for allocation in self.allocations_of(leg):
                seen.setdefault(allocation.account_id)
        return list(seen)

    def legs_by_account(self) -> dict[str, list[AccountLeg]]:
        plan: dict[str, list[AccountLeg]] = {}
        for index, leg in enumerate(self.legs):
            for allocation in self.allocations_of(leg):
                plan.setdefault(allocation.account_id, []).append(
                    AccountLeg(index, leg, allocation.multiplier)
                )
        return plan

    @property
    def has_risk_rules(self) -> bool:
        """True when anything must be watched between entry and exit."""
        return (
            self.risk.watches_mtm
            or self.risk.watches_underlying
            or any(leg.guarded or leg.wait_and_trade is not None for leg in self.legs)
        )

    def times(self) -> Iterator[tuple[Phase, time, tuple[Weekday, ...]]]:
        yield Phase.ENTRY, self.entry_time, self.entry_days
        yield Phase.EXIT, self.exit_time, self.exit_days
