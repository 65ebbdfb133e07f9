"""Schedule entries: what a strategy asks the planner to do at each weekday and time.

One entry per (strategy, ENTRY|EXIT, weekday). It carries every allocated account's legs so the
planner needs nothing else from the table but broker sessions. The slot shard spreads one busy minute
(09:20 for everyone) over several GSI2 partitions; the planner queries every shard.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.strategy import Phase, Strategy, Weekday


@dataclass(frozen=True)
class ScheduleEntry:
    strategy_id: str
    phase: Phase
    weekday: Weekday
    fire_time: str  # HH:MM:SS IST
    payload: dict[str, Any]

    @property
    def hhmm(self) -> str:
        return self.fire_time[:2] + self.fire_time[3:5]


def shard_of(uid: str, strategy_id: str, shards: int) -> int:
    """Stable across processes and Python versions (no hash randomisation)."""
    digest = hashlib.blake2b(f"{uid}#{strategy_id}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") % shards


def schedule_entries(strategy_id: str, strategy: Strategy) -> list[ScheduleEntry]:
    """Every schedule entry the strategy needs while it is active and its basket enabled."""
    accounts = {
        account_id: [
            {
                "leg": account_leg.index,
                "side": account_leg.leg.side.value,
                "option_type": account_leg.leg.option_type.value,
                "strike": {
                    "method": account_leg.leg.strike.method.value,
                    "value": str(account_leg.leg.strike.value),
                },
                "lots": account_leg.leg.lots,
                "multiplier": str(account_leg.multiplier),
                # entered later by the risk monitor, once its premium has moved (wait and trade)
                **({"wait": True} if account_leg.leg.wait_and_trade is not None else {}),
            }
            for account_leg in legs
        ]
        for account_id, legs in strategy.legs_by_account().items()
    }
    entries = []
    for phase, moment, days in strategy.times():
        payload = {
            "underlying": strategy.underlying.value,
            "expiry": strategy.expiry.value,
            "product": strategy.product.value,
            "on_leg_failure": strategy.risk.on_leg_failure.value,
            "max_entry_delay_seconds": strategy.max_entry_delay_seconds,
            "accounts": accounts,
        }
        if phase is Phase.ENTRY:
            payload["margin_check"] = strategy.risk.margin_check
        if phase is Phase.ENTRY and strategy.entry_dte is not None:
            payload["dte"] = list(strategy.entry_dte)
        for day in days:
            entries.append(
                ScheduleEntry(strategy_id, phase, day, moment.strftime("%H:%M:%S"), payload)
            )
    return entries
