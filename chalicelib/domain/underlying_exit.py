"""Strategy exits on the underlying's move from its level at entry.

Which way is a stop? The one that hurts the strategy. Each leg leans one way on the index: a bought
call or a sold put gains when it rises (+1 per lot), a sold call or a bought put when it falls
(-1 per lot). The sum over the legs (lots-weighted) is the strategy's direction:

* bullish (> 0): the stop is a fall of the index by the level, the target a rise;
* bearish (< 0): the stop is a rise, the target a fall;
* neutral (0, a straddle or strangle): the stop is a move of the level either way (the range
  the trader sold is broken); a target has no favourable direction and is refused.

AlgoTest's leg-level underlying stop follows the same rule for one leg (a sold call stops on a rise);
this extends it to the strategy by the net lean of its legs.
"""

from __future__ import annotations

from decimal import Decimal

from chalicelib.domain.strategy import ExitReason, RiskLevel, RiskUnit, Side, Strategy
from chalicelib.domain.underlying import OptionType
from chalicelib.errors import ValidationFailed

HUNDRED = Decimal(100)
#: A percent move of the index beyond this is not a rule anyone means (a 20% index day halts trade).
MAX_PERCENT = Decimal(20)


def direction(strategy: Strategy) -> int:
    """+1 bullish, -1 bearish, 0 neutral: the sign of the lots-weighted lean of the legs."""
    lean = 0
    for leg in strategy.legs:
        up = (leg.option_type is OptionType.CE) == (leg.side is Side.BUY)
        lean += leg.lots if up else -leg.lots
    return (lean > 0) - (lean < 0)


def move(level: RiskLevel, entry: Decimal) -> Decimal:
    """The level as index points from ``entry``."""
    if level.unit is RiskUnit.PERCENT:
        return entry * level.value / HUNDRED
    return level.value


def underlying_exit(
    strategy: Strategy, entry: Decimal, spot: Decimal
) -> tuple[ExitReason, Decimal] | None:
    """Why the strategy must close with the index at ``spot`` (entered at ``entry``), and the
    level crossed; None while neither rule is crossed. The stop is checked first."""
    risk, lean = strategy.risk, direction(strategy)
    change = spot - entry
    stop = risk.underlying_stop_loss
    if stop is not None:
        points = move(stop, entry)
        adverse = abs(change) if lean == 0 else -lean * change
        if adverse >= points:
            side = 1 if (change > 0 if lean == 0 else lean < 0) else -1
            return ExitReason.UNDERLYING_STOP_LOSS, entry + side * points
    target = risk.underlying_target
    if target is not None and lean != 0:
        points = move(target, entry)
        if lean * change >= points:
            return ExitReason.UNDERLYING_TARGET, entry + lean * points
    return None


def check_underlying_rules(strategy: Strategy) -> None:
    """Refuse a level the index move cannot express (ABSOLUTE, a silly percent) and a target
    without a favourable direction."""
    for name in ("underlying_stop_loss", "underlying_target"):
        level: RiskLevel | None = getattr(strategy.risk, name)
        if level is None:
            continue
        if level.unit is RiskUnit.ABSOLUTE:
            raise ValidationFailed(
                "an underlying level is a move in POINTS or PERCENT from the index at entry",
                field=f"risk.{name}.type",
            )
        if level.unit is RiskUnit.PERCENT and level.value > MAX_PERCENT:
            raise ValidationFailed(
                f"an underlying move of more than {MAX_PERCENT}% is not a usable level",
                field=f"risk.{name}.value",
            )
    if strategy.risk.underlying_target is not None and direction(strategy) == 0:
        raise ValidationFailed(
            "the legs lean neither way on the index (as many bullish as bearish lots), so an "
            "underlying target has no favourable direction; use underlying_stop_loss (a move "
            "either way) or mtm_target",
            field="risk.underlying_target",
        )
