"""Request bodies shared by unit and integration tests."""

from __future__ import annotations

from typing import Any


def four_leg_strategy(basket_id: str, a1: str, a2: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "basket_id": basket_id,
        "name": "NIFTY short iron condor",
        "underlying": "NIFTY",
        "expiry": "current_week",
        "product": "MIS",
        "entry": {"time": "09:20:00", "days": ["MON", "TUE", "WED", "THU", "FRI"]},
        "exit": {"time": "15:15:00"},
        "allocations": [
            {"account_id": a1, "multiplier": 1},
            {"account_id": a2, "multiplier": 2},
        ],
        "legs": [
            {"side": "SELL", "option_type": "CE", "strike": {"method": "ATM_OFFSET", "value": 2},
             "lots": 1},
            {"side": "BUY", "option_type": "CE", "strike": {"method": "ATM_OFFSET", "value": 6},
             "lots": 1, "allocations": [{"account_id": a1, "multiplier": 1}]},
            {"side": "SELL", "option_type": "PE", "strike": {"method": "CLOSEST_PREMIUM",
             "value": "40"}, "lots": 1, "stop_loss": {"type": "PERCENT", "value": "30"}},
            {"side": "BUY", "option_type": "PE", "strike": {"method": "ATM_OFFSET", "value": 6},
             "lots": 1},
        ],
        "risk": {"mtm_stop_loss": "5000", "mtm_target": "8000", "on_leg_failure": "UNWIND"},
    }  # fmt: skip
    body.update(overrides)
    return body
