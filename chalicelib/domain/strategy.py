"""The strategy a trader defines: legs, timing, broker allocations and risk, and the rules it obeys.

The API layer checks shapes and types; this module checks what needs the market model or several
fields at once (session hours, exit after entry, freeze-limited lots, known accounts). Every failure
names the field, so the trader knows what to fix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, time
from decimal import Decimal
from enum import StrEnum
from typing import Any

from chalicelib.domain.broker_support import BrokerSupport, broker_capabilities
from chalicelib.domain.brokers import INDEX_QUOTE_BROKERS
from chalicelib.domain.calendar import default_calendar
from chalicelib.domain.contracts import contract_spec
from chalicelib.domain.expiry import ExpiryChoice, choices_for, resolve_expiry
from chalicelib.domain.market_errors import MarketRuleError
from chalicelib.domain.strike_selection import StrikeMethod, validate_strike_rule
from chalicelib.domain.underlying import OptionType, Underlying
from chalicelib.domain.wait_and_trade import WaitAndTrade, check_wait_and_trade
from chalicelib.errors import ValidationFailed

MAX_LEGS = 10
MAX_SLICES_PER_LEG = 10  # one burst stays within the 10 orders/s rule


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


# ---------------------------------------------------------------------------------------------
# Rules that need the market model or several fields at once.
# ---------------------------------------------------------------------------------------------


def check_strategy(
    strategy: Strategy,
    known_accounts: Iterable[str],
    today: date,
    brokers: Mapping[str, str] | None = None,
    capabilities: Callable[[str], BrokerSupport] = broker_capabilities,
) -> None:
    """Raise ValidationFailed naming the first field that breaks a rule.

    ``brokers`` maps account ids to their broker, so risk rules a broker cannot honour are
    refused here rather than stored and ignored.
    """
    _check_times(strategy, today)
    _check_expiry(strategy, today)
    _check_allocations(strategy, set(known_accounts))
    _check_legs(strategy, today)
    _check_risk(strategy, today)
    if brokers is not None:
        _check_broker_support(strategy, brokers, capabilities)


def _check_expiry(strategy: Strategy, today: date) -> None:
    allowed = choices_for(strategy.underlying, today)
    if strategy.expiry not in allowed:
        raise ValidationFailed(
            f"{strategy.underlying} has no weekly expiries, so {strategy.expiry} does not exist; "
            f"use one of: {', '.join(allowed)}",
            field="expiry",
        )


def _carried_overnight(strategy: Strategy) -> bool:
    same_days = set(strategy.exit_days) == set(strategy.entry_days)
    return not (same_days and strategy.exit_time > strategy.entry_time)


def _check_risk(strategy: Strategy, today: date) -> None:
    risk = strategy.risk
    for i, leg in enumerate(strategy.legs):
        where = f"legs[{i}]"
        _check_level_reachable(leg, where)
        if leg.trailing is not None:
            if leg.stop_loss is None:
                raise ValidationFailed(
                    "a trailing stop needs a stop_loss to trail", field=f"{where}.trailing"
                )
            if leg.trailing.by > leg.trailing.every:
                raise ValidationFailed(
                    "trailing.by must not exceed trailing.every (the stop would pass the price)",
                    field=f"{where}.trailing.by",
                )
        if leg.re_entry is not None:
            for reason, level in (
                (ExitReason.STOP_LOSS, leg.stop_loss),
                (ExitReason.TARGET, leg.target),
            ):
                if reason in leg.re_entry.on and level is None:
                    raise ValidationFailed(
                        f"re-entry on {reason.value} needs the leg's "
                        f"{'stop_loss' if reason is ExitReason.STOP_LOSS else 'target'}",
                        field=f"{where}.re_entry.on",
                    )
    if risk.move_sl_to_cost and sum(leg.stop_loss is not None for leg in strategy.legs) < 2:
        raise ValidationFailed(
            "move_sl_to_cost needs a stop_loss on at least two legs",
            field="risk.move_sl_to_cost",
        )
    lock = risk.lock_and_trail
    if lock is not None:
        if lock.lock >= lock.reach:
            raise ValidationFailed(
                "the locked profit must be below the profit that locks it",
                field="risk.lock_and_trail.lock",
            )
        if (lock.every is None) != (lock.by is None):
            raise ValidationFailed(
                "give both every and by to trail the locked profit, or neither",
                field="risk.lock_and_trail.every",
            )
        if lock.every is not None and lock.by is not None and lock.by > lock.every:
            raise ValidationFailed(
                "lock_and_trail.by must not exceed lock_and_trail.every",
                field="risk.lock_and_trail.by",
            )
    if risk.mtm_target is not None and lock is not None and lock.reach >= risk.mtm_target:
        raise ValidationFailed(
            "lock_and_trail.reach must be below mtm_target (the target exits first)",
            field="risk.lock_and_trail.reach",
        )
    from chalicelib.domain.underlying_exit import check_underlying_rules  # it reads Strategy

    check_underlying_rules(strategy)
    check_wait_and_trade(strategy)
    cutoff = risk.no_re_entry_after
    if cutoff is not None and not strategy.entry_time < cutoff < strategy.exit_time:
        raise ValidationFailed(
            "no_re_entry_after must fall between the entry and exit times",
            field="risk.no_re_entry_after",
        )
    if strategy.has_risk_rules and _carried_overnight(strategy):
        raise ValidationFailed(
            "stop-loss, target and MTM rules are intraday: stop orders are DAY orders and the "
            "price monitor runs in the session, so a position carried overnight would be "
            "unprotected; exit the same day or remove the risk rules",
            field="product",
        )


def _check_level_reachable(leg: Leg, where: str) -> None:
    """Refuse levels a premium can never reach: it cannot fall to zero or below."""
    hundred = Decimal(100)
    stop, target = leg.stop_loss, leg.target
    bought, sold = leg.side is Side.BUY, leg.side is Side.SELL
    if bought and stop is not None and stop.unit is RiskUnit.PERCENT and stop.value >= hundred:
        raise ValidationFailed(
            "a stop of 100% or more on a bought option can never trigger",
            field=f"{where}.stop_loss.value",
        )
    if sold and target is not None and target.unit is RiskUnit.PERCENT and target.value >= hundred:
        raise ValidationFailed(
            "a target of 100% or more on a sold option can never be reached",
            field=f"{where}.target.value",
        )


def _check_broker_support(
    strategy: Strategy,
    brokers: Mapping[str, str],
    capabilities: Callable[[str], BrokerSupport] = broker_capabilities,
) -> None:
    needs_index = strategy.risk.watches_underlying or any(
        (leg.re_entry is not None and leg.re_entry.mode is ReEntryMode.RE_EXECUTE)
        or leg.wait_and_trade is not None
        for leg in strategy.legs
    )
    if needs_index and not any(
        brokers.get(a) in INDEX_QUOTE_BROKERS for a in strategy.account_ids()
    ):
        where = next(
            (
                f"risk.{name}"
                for name in ("underlying_stop_loss", "underlying_target")
                if getattr(strategy.risk, name) is not None
            ),
            None,
        ) or next(
            f"legs[{i}].re_entry.mode"
            if leg.wait_and_trade is None
            else f"legs[{i}].wait_and_trade"
            for i, leg in enumerate(strategy.legs)
            if (leg.re_entry is not None and leg.re_entry.mode is ReEntryMode.RE_EXECUTE)
            or leg.wait_and_trade is not None
        )
        raise ValidationFailed(
            "this rule reads the index level live, which only a Zerodha or paper account's "
            "quotes give: allocate the strategy to one",
            field=where,
        )
    for i, leg in enumerate(strategy.legs):
        for allocation in strategy.allocations_of(leg):
            broker = brokers.get(allocation.account_id, "")
            support = capabilities(broker)
            if leg.stop_loss is not None and not support.stop_limit_orders:
                raise ValidationFailed(
                    f"{broker} does not accept stop-loss limit orders through its API, so this "
                    "leg's stop cannot be placed at the exchange",
                    field=f"legs[{i}].stop_loss",
                )
            if leg.trailing is not None and not support.modify_orders:
                raise ValidationFailed(
                    f"{broker} cannot modify open orders through its API, so a trailing stop "
                    "cannot be moved",
                    field=f"legs[{i}].trailing",
                )


def _check_times(strategy: Strategy, today: date) -> None:
    opens, closes = default_calendar().fo_session_bounds(today)
    for phase, moment, _days in strategy.times():
        name = phase.lower()
        if not opens <= moment < closes:
            raise ValidationFailed(
                f"{name} time must be inside the F&O session "
                f"{opens:%H:%M}-{closes:%H:%M} IST (exclusive of the close)",
                field=f"{name}.time",
            )
    shares_a_day = set(strategy.entry_days) & set(strategy.exit_days)
    if shares_a_day and strategy.exit_time <= strategy.entry_time:
        raise ValidationFailed("exit time must be after entry time", field="exit.time")
    if strategy.product is Product.MIS and set(strategy.exit_days) != set(strategy.entry_days):
        raise ValidationFailed(
            "an intraday (MIS) strategy exits on the days it enters", field="exit.days"
        )


def _check_allocations(strategy: Strategy, known: set[str]) -> None:
    groups: list[tuple[str, tuple[Allocation, ...]]] = [("allocations", strategy.allocations)]
    groups += [
        (f"legs[{i}].allocations", leg.allocations)
        for i, leg in enumerate(strategy.legs)
        if leg.allocations is not None
    ]
    for where, allocations in groups:
        seen: set[str] = set()
        for j, allocation in enumerate(allocations):
            if allocation.account_id not in known:
                raise ValidationFailed(
                    f"unknown broker account {allocation.account_id!r}",
                    field=f"{where}[{j}].account_id",
                )
            if allocation.account_id in seen:
                raise ValidationFailed(
                    "an account appears twice in one allocation list",
                    field=f"{where}[{j}].account_id",
                )
            seen.add(allocation.account_id)
    for i, leg in enumerate(strategy.legs):
        if not strategy.allocations_of(leg):
            raise ValidationFailed(
                "the leg trades on no account: give the strategy or the leg allocations",
                field=f"legs[{i}].allocations",
            )


def _check_legs(strategy: Strategy, today: date) -> None:
    try:
        expiry = resolve_expiry(strategy.underlying, strategy.expiry, today)
    except MarketRuleError:
        # The calendar does not cover that far yet (next year's holidays are unpublished): the
        # lot size of contracts listed today bounds the sizing check just as well.
        expiry = today
    spec = contract_spec(strategy.underlying, expiry, today)
    max_lots = spec.max_lots_per_order * MAX_SLICES_PER_LEG
    _check_self_cancelling(strategy)
    for i, leg in enumerate(strategy.legs):
        try:
            validate_strike_rule(leg.strike.method, leg.strike.value)
        except MarketRuleError as error:
            raise ValidationFailed(str(error), field=f"legs[{i}].strike.value") from error
        biggest = max((a.multiplier for a in strategy.allocations_of(leg)), default=Decimal(1))
        if leg.lots * biggest > max_lots:
            raise ValidationFailed(
                f"{leg.lots} lots x multiplier {biggest} exceeds {max_lots} lots "
                f"({MAX_SLICES_PER_LEG} orders at the {strategy.underlying} freeze limit of "
                f"{spec.freeze_qty} units)",
                field=f"legs[{i}].lots",
            )
        for where, level in (("stop_loss", leg.stop_loss), ("target", leg.target)):
            if level is not None and level.unit is RiskUnit.PERCENT and level.value > 1000:
                raise ValidationFailed(
                    "a percent level must be at most 1000", field=f"legs[{i}].{where}.value"
                )


def _check_self_cancelling(strategy: Strategy) -> None:
    """Refuse a leg that buys what another leg sells on a shared account: same option type and
    strike rule (the expiry is the strategy's), opposite sides. The pair nets out at the
    broker, pays charges twice, and its stops or exits would act on a position that is not there."""
    seen: dict[tuple[Any, ...], list[tuple[int, Side, frozenset[str]]]] = {}
    for i, leg in enumerate(strategy.legs):
        key = (leg.option_type, leg.strike.method, leg.strike.value)
        accounts = frozenset(a.account_id for a in strategy.allocations_of(leg))
        for j, side, others in seen.get(key, []):
            if side is not leg.side and others & accounts:
                raise ValidationFailed(
                    f"leg {i} {leg.side.value}s what leg {j} {side.value}s (same "
                    f"{leg.option_type.value} strike rule and expiry): the two cancel out",
                    field=f"legs[{i}].side",
                    code="self_cancelling_legs",
                )
        seen.setdefault(key, []).append((i, leg.side, accounts))


# ---------------------------------------------------------------------------------------------
# The stored document (JSON-safe: decimals and times as strings) and back.
# ---------------------------------------------------------------------------------------------


def _allocations_doc(allocations: tuple[Allocation, ...]) -> list[dict[str, str]]:
    return [{"account_id": a.account_id, "multiplier": str(a.multiplier)} for a in allocations]


def _level_doc(level: RiskLevel | None) -> dict[str, str] | None:
    return None if level is None else {"type": level.unit.value, "value": str(level.value)}


def to_document(strategy: Strategy) -> dict[str, Any]:
    legs = []
    for leg in strategy.legs:
        doc: dict[str, Any] = {
            "side": leg.side.value,
            "option_type": leg.option_type.value,
            "strike": {"method": leg.strike.method.value, "value": str(leg.strike.value)},
            "lots": leg.lots,
            "stop_loss": _level_doc(leg.stop_loss),
            "target": _level_doc(leg.target),
            "trailing": None
            if leg.trailing is None
            else {"every": str(leg.trailing.every), "by": str(leg.trailing.by)},
            "re_entry": None
            if leg.re_entry is None
            else {
                "mode": leg.re_entry.mode.value,
                "max_count": leg.re_entry.max_count,
                "on": [r.value for r in leg.re_entry.on],
            },
        }
        if leg.allocations is not None:
            doc["allocations"] = _allocations_doc(leg.allocations)
        if leg.wait_and_trade is not None:
            doc["wait_and_trade"] = leg.wait_and_trade.to_document()
        legs.append(doc)
    risk = strategy.risk
    return {
        "basket_id": strategy.basket_id,
        "name": strategy.name,
        "underlying": strategy.underlying.value,
        "expiry": strategy.expiry.value,
        "product": strategy.product.value,
        "entry": {
            "time": strategy.entry_time.isoformat(),
            "days": [d.value for d in strategy.entry_days],
            **({} if strategy.entry_dte is None else {"dte": list(strategy.entry_dte)}),
        },
        "exit": {
            "time": strategy.exit_time.isoformat(),
            "days": [d.value for d in strategy.exit_days],
        },
        "allocations": _allocations_doc(strategy.allocations),
        "legs": legs,
        "max_entry_delay_seconds": strategy.max_entry_delay_seconds,
        "risk": {
            "mtm_stop_loss": None if risk.mtm_stop_loss is None else str(risk.mtm_stop_loss),
            "mtm_target": None if risk.mtm_target is None else str(risk.mtm_target),
            "on_leg_failure": risk.on_leg_failure.value,
            "mtm_scope": risk.mtm_scope.value,
            "lock_and_trail": _lock_doc(risk.lock_and_trail),
            "move_sl_to_cost": risk.move_sl_to_cost,
            "margin_check": risk.margin_check,
            "no_re_entry_after": None
            if risk.no_re_entry_after is None
            else risk.no_re_entry_after.isoformat(),
            "underlying_stop_loss": _level_doc(risk.underlying_stop_loss),
            "underlying_target": _level_doc(risk.underlying_target),
        },
    }


def _lock_doc(lock: LockAndTrail | None) -> dict[str, str | None] | None:
    if lock is None:
        return None
    return {
        "reach": str(lock.reach),
        "lock": str(lock.lock),
        "every": None if lock.every is None else str(lock.every),
        "by": None if lock.by is None else str(lock.by),
    }


def _allocations_of_doc(items: list[dict[str, str]]) -> tuple[Allocation, ...]:
    return tuple(Allocation(i["account_id"], Decimal(i["multiplier"])) for i in items)


def _level_of_doc(doc: dict[str, str] | None) -> RiskLevel | None:
    return None if doc is None else RiskLevel(RiskUnit(doc["type"]), Decimal(doc["value"]))


def from_document(doc: dict[str, Any]) -> Strategy:
    legs = tuple(
        Leg(
            side=Side(leg["side"]),
            option_type=OptionType(leg["option_type"]),
            strike=StrikeRule(
                StrikeMethod(leg["strike"]["method"]), Decimal(leg["strike"]["value"])
            ),
            lots=int(leg["lots"]),
            allocations=(_allocations_of_doc(leg["allocations"]) if "allocations" in leg else None),
            stop_loss=_level_of_doc(leg.get("stop_loss")),
            target=_level_of_doc(leg.get("target")),
            trailing=_trailing_of_doc(leg.get("trailing")),
            re_entry=_re_entry_of_doc(leg.get("re_entry")),
            wait_and_trade=WaitAndTrade.of_document(leg.get("wait_and_trade")),
        )
        for leg in doc["legs"]
    )
    risk = doc.get("risk") or {}
    return Strategy(
        basket_id=doc["basket_id"],
        name=doc["name"],
        underlying=Underlying(doc["underlying"]),
        expiry=ExpiryChoice(doc["expiry"]),
        product=Product(doc["product"]),
        entry_time=time.fromisoformat(doc["entry"]["time"]),
        entry_days=tuple(Weekday(d) for d in doc["entry"]["days"]),
        entry_dte=(
            None if doc["entry"].get("dte") is None else tuple(int(d) for d in doc["entry"]["dte"])
        ),
        exit_time=time.fromisoformat(doc["exit"]["time"]),
        exit_days=tuple(Weekday(d) for d in doc["exit"]["days"]),
        allocations=_allocations_of_doc(doc["allocations"]),
        legs=legs,
        max_entry_delay_seconds=int(doc.get("max_entry_delay_seconds", DEFAULT_MAX_ENTRY_DELAY)),
        risk=StrategyRisk(
            mtm_stop_loss=_decimal_or_none(risk.get("mtm_stop_loss")),
            mtm_target=_decimal_or_none(risk.get("mtm_target")),
            on_leg_failure=OnLegFailure(risk.get("on_leg_failure", "UNWIND")),
            mtm_scope=MtmScope(risk.get("mtm_scope") or "STRATEGY"),
            lock_and_trail=_lock_of_doc(risk.get("lock_and_trail")),
            move_sl_to_cost=bool(risk.get("move_sl_to_cost", False)),
            margin_check=bool(risk.get("margin_check", True)),
            no_re_entry_after=(
                time.fromisoformat(risk["no_re_entry_after"])
                if risk.get("no_re_entry_after")
                else None
            ),
            underlying_stop_loss=_level_of_doc(risk.get("underlying_stop_loss")),
            underlying_target=_level_of_doc(risk.get("underlying_target")),
        ),
    )


def _trailing_of_doc(doc: dict[str, str] | None) -> Trailing | None:
    return None if not doc else Trailing(Decimal(doc["every"]), Decimal(doc["by"]))


def _re_entry_of_doc(doc: dict[str, Any] | None) -> ReEntry | None:
    if not doc:
        return None
    return ReEntry(
        ReEntryMode(doc["mode"]),
        int(doc["max_count"]),
        tuple(ExitReason(r) for r in doc.get("on") or ["STOP_LOSS"]),
    )


def _lock_of_doc(doc: dict[str, Any] | None) -> LockAndTrail | None:
    if not doc:
        return None
    return LockAndTrail(
        reach=Decimal(doc["reach"]),
        lock=Decimal(doc["lock"]),
        every=_decimal_or_none(doc.get("every")),
        by=_decimal_or_none(doc.get("by")),
    )


def _decimal_or_none(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)
