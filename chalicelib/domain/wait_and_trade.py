"""Wait and trade: a leg enters only once its premium has moved X points or X % from its premium
at the entry time (the *reference*), up or down, before a deadline.

The rule is pure arithmetic here; the risk monitor (``services.wait_trade``) takes the reference
right after the entry time, watches the premium and enters through the engine's send path. The
trigger is snapped to the tick away from the reference (an UP move of 10 % on 101.30 triggers at
111.45, not 111.40), so the leg never enters on less than the move the trader asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from chalicelib.domain.money import TICK, Rounding, snap_to_tick
from chalicelib.errors import ValidationFailed

if TYPE_CHECKING:
    from chalicelib.domain.strategy import Strategy

HUNDRED = Decimal(100)
#: A waiting leg must give up this long before the exit time: the exit is planned from what is
#: held (up to a minute before T on AWS), and re-entries stop at the same cut-off.
BEFORE_EXIT = timedelta(seconds=90)


class WaitDirection(StrEnum):
    UP = "UP"
    DOWN = "DOWN"


class WaitUnit(StrEnum):
    POINTS = "POINTS"
    PERCENT = "PERCENT"


@dataclass(frozen=True)
class WaitAndTrade:
    direction: WaitDirection
    unit: WaitUnit
    value: Decimal
    until: time

    def to_document(self) -> dict[str, str]:
        return {
            "direction": self.direction.value,
            "type": self.unit.value,
            "value": str(self.value),
            "until": self.until.isoformat(),
        }

    @classmethod
    def of_document(cls, doc: dict[str, Any] | None) -> WaitAndTrade | None:
        if not doc:
            return None
        return cls(
            WaitDirection(doc["direction"]),
            WaitUnit(doc["type"]),
            Decimal(str(doc["value"])),
            time.fromisoformat(doc["until"]),
        )


def trigger_price(rule: WaitAndTrade, reference: Decimal, tick: Decimal = TICK) -> Decimal | None:
    """The premium at which the leg enters; None when a premium can never reach it (a fall to
    zero or below)."""
    move = reference * rule.value / HUNDRED if rule.unit is WaitUnit.PERCENT else rule.value
    if rule.direction is WaitDirection.UP:
        return snap_to_tick(reference + move, tick, Rounding.UP)
    price = snap_to_tick(reference - move, tick, Rounding.DOWN)
    return price if price >= tick else None


def reached(rule: WaitAndTrade, trigger: Decimal, ltp: Decimal) -> bool:
    return ltp >= trigger if rule.direction is WaitDirection.UP else ltp <= trigger


def check_wait_and_trade(strategy: Strategy) -> None:
    """The deadline falls between the entry time and 90 s before the exit; a percent move down
    stays below 100 (a premium never reaches zero) and no move is above 100 %."""
    day = datetime(2000, 1, 3)
    last = (datetime.combine(day, strategy.exit_time) - BEFORE_EXIT).time()
    for i, leg in enumerate(strategy.legs):
        rule = leg.wait_and_trade
        if rule is None:
            continue
        where = f"legs[{i}].wait_and_trade"
        if rule.value <= 0:
            raise ValidationFailed("the move must be above zero", field=f"{where}.value")
        if rule.unit is WaitUnit.PERCENT and rule.value > HUNDRED:
            raise ValidationFailed("a percent move must be at most 100", field=f"{where}.value")
        if (
            rule.unit is WaitUnit.PERCENT
            and rule.direction is WaitDirection.DOWN
            and rule.value >= HUNDRED
        ):
            raise ValidationFailed(
                "a premium never falls 100% (to zero): the leg could never enter",
                field=f"{where}.value",
            )
        if not rule.until > strategy.entry_time:
            raise ValidationFailed(
                "until must be after the entry time (the reference premium is taken then)",
                field=f"{where}.until",
            )
        if not rule.until <= last:
            raise ValidationFailed(
                f"until must be at least {int(BEFORE_EXIT.total_seconds())} s before the exit "
                "time (the exit is planned from what is held before it)",
                field=f"{where}.until",
            )
