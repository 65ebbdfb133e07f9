"""One method per access pattern of the single table; keys are built by the entities.

Every multi-item invariant (a strategy and its schedule entries, a basket and its strategies'
schedules) is written in one TransactWrite, so the GSI2 schedule index can never go stale.
``Repository`` is assembled from its parts, one module per group of access patterns:

- ``account_tables.py``: profiles, broker accounts, sessions and pending logins;
- ``strategy_tables.py``: baskets, strategies and their schedule entries (the basket gate);
- ``planner_reads.py``: the slot, the due accounts and sessions, the basket gate at plan time;
- ``table_access.py`` / ``guarded.py``: the shared plumbing, the error edge and record stamps.

The services see it through the protocols of ``chalicelib/ports/``, never by this name.
"""

from __future__ import annotations

from chalicelib.adapters.dynamo.account_tables import AccountTables
from chalicelib.adapters.dynamo.guarded import (
    _lost_race,
    _stamp_clock,
    bind_clock,
    guarded,
    now_iso,
)
from chalicelib.adapters.dynamo.planner_reads import PlannerReads
from chalicelib.adapters.dynamo.strategy_tables import StrategyTables
from chalicelib.adapters.dynamo.table_access import TRANSACTION_LIMIT

__all__ = [
    "TRANSACTION_LIMIT",
    "Repository",
    "_lost_race",
    "_stamp_clock",
    "bind_clock",
    "guarded",
    "now_iso",
]


class Repository(AccountTables, StrategyTables, PlannerReads):
    """Storage for profiles, accounts, baskets, strategies and their schedule entries."""
