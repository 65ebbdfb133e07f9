"""Risk rules as pure functions: stop and target prices, trailing, MTM exits, re-entry.

Everything is priced in option premium per unit. A leg's *side* is its entry side: a SELL leg is
short, so its stop sits above the entry price and its target below; a BUY leg the other way
round. Stops always snap to the tick on the *tighter* side (a stop of 30% on 101.30 is 131.65,
not 131.70), never loosen, and stay at least one tick away from the entry. A level the premium
cannot reach (a long's stop at or below zero, a short's target at or below zero) is None: there
is nothing to watch.

The stop-loss order placed at the broker is an SL-LIMIT: the trigger is the stop, the limit is
the protected price around it (the same slabs as every "market" order), so the exchange fills it
even when the premium gaps through the trigger, yet never at an unbounded price.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, Decimal

from chalicelib.domain.money import TICK, Rounding, snap_to_tick
from chalicelib.domain.protection import default_protection_policies, protected_limit_price
from chalicelib.domain.reference_data import in_force
from chalicelib.domain.strategy import (
    ExitReason,
    LockAndTrail,
    ReEntryMode,
    RiskLevel,
    RiskUnit,
    Side,
    StrategyRisk,
    Trailing,
)

HUNDRED = Decimal(100)


def closing_side(entry_side: Side | str) -> Side:
    return Side.BUY if Side(entry_side) is Side.SELL else Side.SELL


def short(entry_side: Side | str) -> bool:
    return Side(entry_side) is Side.SELL


def distance(unit: RiskUnit, value: Decimal, entry: Decimal) -> Decimal:
    """A POINTS or PERCENT amount in premium points (PERCENT is of the entry price)."""
    return entry * value / HUNDRED if unit is RiskUnit.PERCENT else value


def _beyond(entry: Decimal, step: Decimal) -> Decimal:
    """The first tick at least one tick above (``step`` > 0) or below the entry; an average fill
    price can sit between ticks, and an order price must not."""
    rounding = Rounding.UP if step > 0 else Rounding.DOWN
    return snap_to_tick(entry + step, abs(step), rounding)


def _level(entry: Decimal, level: RiskLevel, direction: int) -> Decimal:
    """The raw price ``level`` away from ``entry`` upwards (+1) or downwards (-1)."""
    if level.unit is RiskUnit.ABSOLUTE:
        return level.value
    return entry + direction * distance(level.unit, level.value, entry)


def _away(entry: Decimal, raw: Decimal, direction: int, tick: Decimal) -> Decimal | None:
    """``raw`` snapped towards the entry (the tighter side), kept at least a tick away from it
    in ``direction``; None when that is below the smallest premium."""
    if direction > 0:
        return max(snap_to_tick(raw, tick, Rounding.DOWN), _beyond(entry, tick))
    price = min(snap_to_tick(raw, tick, Rounding.UP), _beyond(entry, -tick))
    return price if price >= tick else None


def stop_price(
    entry_side: Side | str, entry: Decimal, level: RiskLevel, tick: Decimal = TICK
) -> Decimal | None:
    """The stop's trigger for a leg entered at ``entry``; None when it can never trigger."""
    direction = 1 if short(entry_side) else -1  # a short's stop is above its entry
    return _away(entry, _level(entry, level, direction), direction, tick)


def target_price(
    entry_side: Side | str, entry: Decimal, level: RiskLevel, tick: Decimal = TICK
) -> Decimal | None:
    """The price that books the leg's profit; None when a premium cannot reach it."""
    direction = -1 if short(entry_side) else 1
    return _away(entry, _level(entry, level, direction), direction, tick)


def stop_hit(entry_side: Side | str, stop: Decimal | None, ltp: Decimal) -> bool:
    if stop is None:
        return False
    return ltp >= stop if short(entry_side) else ltp <= stop


def target_hit(entry_side: Side | str, target: Decimal | None, ltp: Decimal) -> bool:
    if target is None:
        return False
    return ltp <= target if short(entry_side) else ltp >= target


def favourable(entry_side: Side | str, price: Decimal, than: Decimal) -> bool:
    """True when ``price`` is better for the position than ``than``."""
    return price < than if short(entry_side) else price > than


def tighter(entry_side: Side | str, stop: Decimal, than: Decimal | None) -> bool:
    """True when ``stop`` protects more than ``than`` (a short's stop lower, a long's higher)."""
    if than is None:
        return True
    return stop < than if short(entry_side) else stop > than


def trailed_stop(
    entry_side: Side | str,
    entry: Decimal,
    initial_stop: Decimal,
    best: Decimal,
    trailing: Trailing,
    unit: RiskUnit,
    tick: Decimal = TICK,
) -> Decimal:
    """The stop after trailing: every ``every`` the best price moved in favour from the entry,
    the initial stop tightens by ``by``. Never looser than the initial stop; never crosses the
    best price (a stop at or beyond it would trigger at once)."""
    unit = RiskUnit.POINTS if unit is RiskUnit.ABSOLUTE else unit
    every = distance(unit, trailing.every, entry)
    by = distance(unit, trailing.by, entry)
    moved = (entry - best) if short(entry_side) else (best - entry)
    if moved <= 0 or every <= 0:
        return initial_stop
    steps = (moved / every).to_integral_value(rounding=ROUND_FLOOR)
    if short(entry_side):
        stop = snap_to_tick(initial_stop - steps * by, tick, Rounding.DOWN)
        return max(min(stop, initial_stop), best + tick)
    stop = snap_to_tick(initial_stop + steps * by, tick, Rounding.UP)
    return min(max(stop, initial_stop), best - tick)


def stop_order_prices(
    entry_side: Side | str, trigger: Decimal, on: date, tick: Decimal = TICK
) -> tuple[Decimal, Decimal]:
    """(trigger, limit) of the SL-LIMIT order that closes the leg when the stop is hit."""
    side = closing_side(entry_side)
    return trigger, protected_limit_price(side.value, trigger, on=on, tick=tick)


def chase_limit(
    side: Side | str, ltp: Decimal, attempt: int, *, on: date, tick: Decimal = TICK
) -> Decimal:
    """The limit of the ``attempt``-th closing order (0 = the first) of a position that must be
    flat: the protection buffer times ``1 + attempt``, so every re-price reaches further into the
    book, but never past the exchange's limit-price band (an order outside it is refused), and a
    SELL never below one tick. From some attempt on it is the band's edge."""
    rules = in_force(default_protection_policies(), on, "protection policy")
    price = Decimal(ltp)
    buffer = rules.slab_for(price).buffer(price) * (1 + max(attempt, 0))
    low, high = rules.band.limits(price)
    if Side(side) is Side.BUY:
        return min(
            snap_to_tick(price + buffer, tick, Rounding.UP), snap_to_tick(high, tick, Rounding.DOWN)
        )
    floor = max(snap_to_tick(low, tick, Rounding.UP), tick)
    return max(snap_to_tick(price - buffer, tick, Rounding.DOWN), floor)


def past_the_limit(entry_side: Side | str, limit: Decimal, ltp: Decimal | None) -> bool:
    """A triggered stop-limit the market has run past: its closing limit can no longer fill
    (a short's BUY stop with the premium above its limit, a long's SELL stop below it)."""
    if ltp is None:
        return False
    return ltp > limit if short(entry_side) else ltp < limit


def stop_already_breached(entry_side: Side | str, stop: Decimal, ltp: Decimal | None) -> bool:
    """An SL order whose trigger the market has passed would be refused (a BUY stop must sit
    above the LTP): close at once instead."""
    return ltp is not None and stop_hit(entry_side, stop, ltp)


def re_entry_ready(
    mode: ReEntryMode, entry: Decimal, exit_price: Decimal, ltp: Decimal | None
) -> bool:
    """RE_ASAP and RE_EXECUTE (on a freshly resolved strike) at once; RE_COST when the premium
    is back at the entry price from where it left."""
    if mode in (ReEntryMode.RE_ASAP, ReEntryMode.RE_EXECUTE):
        return True
    if ltp is None:
        return False
    return ltp <= entry if exit_price >= entry else ltp >= entry


# -- strategy MTM -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Book:
    """One position's money: what was bought and sold (in rupees) and what is still held."""

    net_quantity: int
    buy_value: Decimal
    sell_value: Decimal
    ltp: Decimal | None


def mtm(books: Iterable[Book]) -> Decimal | None:
    """Realised plus unrealised P&L in rupees; None when an open position has no price."""
    total = Decimal(0)
    for book in books:
        if book.net_quantity and book.ltp is None:
            return None
        total += book.sell_value - book.buy_value + book.net_quantity * (book.ltp or 0)
    return total


def locked_profit(peak: Decimal, lock: LockAndTrail | None) -> Decimal | None:
    """The profit floor once ``peak`` reached ``lock.reach`` (raised by ``by`` per ``every``)."""
    if lock is None or peak < lock.reach:
        return None
    floor = lock.lock
    if lock.every and lock.by:
        steps = ((peak - lock.reach) / lock.every).to_integral_value(rounding=ROUND_FLOOR)
        floor += steps * lock.by
    return floor


def mtm_exit(value: Decimal, peak: Decimal, risk: StrategyRisk) -> ExitReason | None:
    """Why the strategy (or an account's share) must be closed at P&L ``value``, if it must."""
    if risk.mtm_stop_loss is not None and value <= -risk.mtm_stop_loss:
        return ExitReason.MTM_STOP_LOSS
    if risk.mtm_target is not None and value >= risk.mtm_target:
        return ExitReason.MTM_TARGET
    floor = locked_profit(peak, risk.lock_and_trail)
    if floor is not None and value <= floor:
        return ExitReason.MTM_LOCKED_PROFIT
    return None
