"""What each broker's API can do for risk management, as dated data (``broker_support.json``).

A stop-loss the platform accepts must be placeable at the exchange and, when it trails, movable;
strategy validation asks this table so a rule a broker cannot honour is refused at creation
instead of being stored and silently ignored. The modification cap bounds how often one stop
order is moved before it is cancelled and placed anew.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache

from chalicelib.domain.reference_data import as_date, load_data_file


@dataclass(frozen=True)
class BrokerSupport:
    broker: str
    effective_from: date
    stop_limit_orders: bool
    modify_orders: bool
    max_modifications: int


#: An unknown broker is assumed to support nothing, so nothing is promised on its behalf.
NOTHING = BrokerSupport("", date.min, False, False, 0)


@cache
def _table() -> dict[str, list[BrokerSupport]]:
    table: dict[str, list[BrokerSupport]] = {}
    for entry in load_data_file("broker_support")["entries"]:
        support = BrokerSupport(
            broker=str(entry["broker"]),
            effective_from=as_date(entry["effective_from"]),
            stop_limit_orders=bool(entry["stop_limit_orders"]),
            modify_orders=bool(entry["modify_orders"]),
            max_modifications=int(entry["max_modifications"]),
        )
        table.setdefault(support.broker, []).append(support)
    for rows in table.values():
        rows.sort(key=lambda r: r.effective_from)
    return table


def broker_capabilities(broker: str, on: date | None = None) -> BrokerSupport:
    """The broker's support in force on ``on`` (default: the latest known)."""
    rows = _table().get(broker, [])
    if on is not None:
        rows = [r for r in rows if r.effective_from <= on]
    return rows[-1] if rows else NOTHING
