"""The rules a strategy obeys beyond its shape: what needs the market model or several fields.

The API layer checks shapes and types (``api/schemas.py``); this module checks session hours,
exit after entry, freeze-limited lots, known accounts, reachable risk levels and what each
account's broker can honour. Every failure names the field, so the trader knows what to fix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from chalicelib.domain.broker_support import BrokerSupport, broker_capabilities
from chalicelib.domain.brokers import INDEX_QUOTE_BROKERS
from chalicelib.domain.calendar import default_calendar
from chalicelib.domain.contracts import contract_spec
from chalicelib.domain.expiry import choices_for, resolve_expiry
from chalicelib.domain.market_errors import MarketRuleError
from chalicelib.domain.strategy import (
    Allocation,
    ExitReason,
    Leg,
    Product,
    ReEntryMode,
    RiskUnit,
    Side,
    Strategy,
)
from chalicelib.domain.strike_selection import validate_strike_rule
from chalicelib.domain.underlying_exit import check_underlying_rules
from chalicelib.domain.wait_and_trade import check_wait_and_trade
from chalicelib.errors import ValidationFailed

MAX_SLICES_PER_LEG = 10  # one burst stays within the 10 orders/s rule


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
