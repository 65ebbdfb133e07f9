"""A strategy as the stored document (JSON-safe: decimals and times as strings) and back.

The document is what the strategy item and the schedule entries carry; ``from_document`` reads
documents written by older versions too (absent fields take the model's defaults).
"""

from __future__ import annotations

from datetime import time
from decimal import Decimal
from typing import Any

from chalicelib.domain.expiry import ExpiryChoice
from chalicelib.domain.strategy import (
    DEFAULT_MAX_ENTRY_DELAY,
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
from chalicelib.domain.wait_and_trade import WaitAndTrade


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
