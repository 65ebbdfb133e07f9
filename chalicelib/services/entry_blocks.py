"""Why a new entry of a strategy (on an account) is refused now, for the risk engine's
re-entries: an engaged kill switch over it, else the account's day limit reached today.

The kill switch comes first: it names the operator's decision, which outlives the day. The two
checks come in as callables because the kill switch itself is built on the risk engine (the
container resolves them when an entry is checked, not when the engine is built).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class EntryBlocks:
    #: ``KillSwitch.blocks(uid, strategy_id, account_id)``
    kill_switch: Callable[[str, str, str | None], str | None]
    #: ``DayLimits.blocks(uid, account_id)``
    day_limit: Callable[[str, str], str | None]

    def __call__(self, uid: str, strategy_id: str, account_id: str | None) -> str | None:
        """The reason, or None when the entry may go."""
        return self.kill_switch(uid, strategy_id, account_id) or (
            self.day_limit(uid, account_id) if account_id else None
        )
