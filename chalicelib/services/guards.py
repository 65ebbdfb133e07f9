"""Guards: one protected (account, leg, cycle) of a risk book, as a JSON document, and the orders
that act on it.

A guard is born when an entry (or re-entry) fill is known, with the leg's stop and target priced
from the average fill. Its ``state`` moves ARMED -> EXITING -> CLOSED -> (WAITING -> REENTERING
-> re-entered as the next cycle) -> DONE. Money stays a decimal string in the document;
``Guard`` wraps the dict so the engine reads typed values without copying the document around.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from chalicelib.domain.instrument import ContractKey
from chalicelib.domain.protection import protected_limit_price
from chalicelib.domain.records import OrderRecord, PositionRecord
from chalicelib.domain.risk import (
    chase_limit,
    closing_side,
    stop_order_prices,
    stop_price,
    target_price,
)
from chalicelib.domain.sizing import slice_quantity
from chalicelib.domain.strategy import Leg, RiskUnit
from chalicelib.services.closing import Holding, canonical_symbol, contract_key, unique_tag
from chalicelib.services.order_builder import ChildOrder

ARMED, EXITING, CLOSED, WAITING, DONE = "ARMED", "EXITING", "CLOSED", "WAITING", "DONE"
REENTERING = "REENTERING"  # re-entry orders are out; the next cycle's guard is born from fills
LIVE_STATES = frozenset({ARMED, EXITING, CLOSED, WAITING, REENTERING})
#: States a guard may still be in after the exit time: an exit in progress is carried on.
ENDING_STATES = frozenset({EXITING, CLOSED, REENTERING})
#: The guard fields listing the ids of its orders (every one written before it is sent).
ORDER_FIELDS = ("stop_orders", "exit_orders", "entry_orders", "reentry_orders")
#: Order phases of the risk engine's orders (all attached to the entry execution).
STOP, RISK_EXIT, REENTRY = "STOP", "RISKX", "REENTRY"
RISK_PHASES = frozenset({STOP, RISK_EXIT, REENTRY})
CONTRACT_FIELDS = (
    "underlying", "expiry", "strike", "option_type", "exchange", "lot_size", "tick_size",
    "product", "broker",
)  # fmt: skip


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _str(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


class Guard:
    """Typed access to one guard document (mutations write through to the dict)."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc

    # identity and contract
    @property
    def id(self) -> str:
        return str(self.doc["id"])

    @property
    def account_id(self) -> str:
        return str(self.doc["account_id"])

    @property
    def leg(self) -> int:
        return int(self.doc["leg"])

    @property
    def side(self) -> str:
        return str(self.doc["side"])

    @property
    def key(self) -> ContractKey:
        return contract_key(self.doc["contract"])

    @property
    def symbol(self) -> str:
        return str(self.doc["symbol"])

    @property
    def tick(self) -> Decimal:
        return Decimal(str(self.doc["contract"]["tick_size"]))

    # money
    @property
    def quantity(self) -> int:
        return int(self.doc["quantity"])

    @property
    def entry(self) -> Decimal:
        return Decimal(str(self.doc["entry_price"]))

    def price(self, name: str) -> Decimal | None:
        return _dec(self.doc.get(name))

    def set_price(self, name: str, value: Decimal | None) -> None:
        self.doc[name] = _str(value)

    @property
    def state(self) -> str:
        return str(self.doc["state"])

    @state.setter
    def state(self, value: str) -> None:
        self.doc["state"] = value

    def ids(self, name: str) -> list[str]:
        return list(self.doc.get(name) or [])

    def holding(self, quantity: int | None = None) -> Holding:
        contract = self.doc["contract"]
        held = self.quantity if quantity is None else quantity
        return Holding(
            account_id=self.account_id,
            broker=str(contract.get("broker", "")),
            key=self.key,
            exchange=str(contract["exchange"]),
            lot_size=int(contract["lot_size"]),
            tick_size=self.tick,
            product=str(contract.get("product", "MIS")),
            net_quantity=held if self.side == "BUY" else -held,
        )


def new_guard(
    *,
    account_id: str,
    leg_index: int,
    leg: Leg,
    cycle: int,
    contract: dict[str, Any],
    quantity: int,
    entry_price: Decimal,
    re_entries: int = 0,
) -> dict[str, Any]:
    """A guard for ``quantity`` units of a leg filled at ``entry_price`` (average)."""
    tick = Decimal(str(contract["tick_size"]))
    stop = stop_price(leg.side, entry_price, leg.stop_loss, tick) if leg.stop_loss else None
    target = target_price(leg.side, entry_price, leg.target, tick) if leg.target else None
    key = contract_key(contract)
    return {
        "id": f"{account_id}:{leg_index}:{cycle}",
        "account_id": account_id,
        "leg": leg_index,
        "cycle": cycle,
        "side": leg.side.value,
        "contract": {name: contract.get(name) for name in CONTRACT_FIELDS}
        | {"broker_symbol": contract.get("broker_symbol", "")},
        "symbol": canonical_symbol(key),
        "quantity": quantity,
        "entered": quantity,  # units the entry orders filled so far (the guard grows with them)
        "entry_price": str(entry_price),
        "stop": _str(stop),
        "initial_stop": _str(stop),
        "target": _str(target),
        "best": str(entry_price),
        "stop_unit": leg.stop_loss.unit.value if leg.stop_loss else RiskUnit.POINTS.value,
        "stop_orders": [],
        "broker_stop": None,
        "modifications": 0,
        "replacements": 0,
        "software_stop": False,
        "cost_moved": False,
        "state": ARMED,
        "reason": None,
        "exit_price": None,
        "exit_orders": [],
        "exit_attempts": 0,
        "re_entries": re_entries,
    }


def grown_guard(doc: dict[str, Any], leg: Leg, units: int, average: Decimal) -> None:
    """The guard after its entry filled ``units`` in all at ``average``: the new units join it,
    and while its stop has not moved (no trail, no move to cost) the levels follow the new
    average, as if it had all filled at once."""
    added = units - int(doc.get("entered", doc["quantity"]))
    doc["quantity"] = int(doc["quantity"]) + added
    doc["entered"] = units
    if doc.get("stop") == doc.get("initial_stop"):
        fresh = new_guard(
            account_id=doc["account_id"], leg_index=int(doc["leg"]), leg=leg,
            cycle=int(doc["cycle"]), contract=doc["contract"], quantity=units,
            entry_price=average,
        )  # fmt: skip
        for name in ("entry_price", "stop", "initial_stop", "target", "best"):
            doc[name] = fresh[name]


def exit_only_guard(
    position: PositionRecord, net: int, reason: str, now: datetime
) -> dict[str, Any]:
    """A guard born EXITING for ``net`` units of a position no guard covers (a leg without
    rules, closed by an MTM exit): the close then goes the way of every other close (written
    before it is sent, chased until flat)."""
    side = "SELL" if net < 0 else "BUY"
    value, units = (
        (position.sell_value, position.sell_quantity)
        if net < 0
        else (position.buy_value, position.buy_quantity)
    )
    entry = (Decimal(value) / units).quantize(Decimal("0.01")) if units else Decimal(0)
    contract = dict(position.contract)
    return {
        "id": f"{position.account_id}:x:{position.symbol}:{now.strftime('%H%M%S')}",
        "account_id": position.account_id,
        "leg": -1,
        "cycle": 0,
        "side": side,
        "contract": {name: contract.get(name) for name in CONTRACT_FIELDS}
        | {"broker_symbol": contract.get("broker_symbol", "")},
        "symbol": position.symbol,
        "quantity": abs(net),
        "entry_price": str(entry),
        "stop": None,
        "initial_stop": None,
        "target": None,
        "best": str(entry),
        "stop_unit": RiskUnit.POINTS.value,
        "stop_orders": [],
        "broker_stop": None,
        "modifications": 0,
        "replacements": 0,
        "software_stop": False,
        "cost_moved": False,
        "state": EXITING,
        "reason": reason,
        "exit_price": None,
        "exit_orders": [],
        "exit_attempts": 0,
        "re_entries": 0,
    }


def entry_fills(orders: Iterable[OrderRecord]) -> dict[tuple[str, int], tuple[int, Decimal, dict]]:
    """(account, leg) -> (filled units, average price, contract doc) of terminal entry orders."""
    sums: dict[tuple[str, int], list[Any]] = {}
    for order in orders:
        filled = int(order.filled_quantity or 0)
        if not filled or order.average_price is None:
            continue
        request = order.request
        slot = (order.account_id, int(request["leg"]))
        total = sums.setdefault(slot, [0, Decimal(0), request])
        total[0] += filled
        total[1] += Decimal(order.average_price) * filled
    return {slot: (units, value / units, request) for slot, (units, value, request) in sums.items()}


def stop_children(
    guard: Guard, strategy_id: str, freeze_qty: int, on: date, seq: int
) -> list[ChildOrder]:
    """The SL-LIMIT orders (sliced at the freeze limit) that close the guard at its stop."""
    stop = guard.price("stop")
    assert stop is not None
    trigger, limit = stop_order_prices(guard.side, stop, on, guard.tick)
    return _children(guard, strategy_id, STOP, freeze_qty, seq, limit, trigger)


def closing_children(
    guard: Guard,
    strategy_id: str,
    quantity: int,
    ltp: Decimal,
    freeze_qty: int,
    on: date,
    seq: int,
    attempt: int = 0,
) -> list[ChildOrder]:
    """Protected LIMIT orders closing ``quantity`` units of the guard at ``ltp``; a re-priced
    attempt reaches further (``chase_limit``)."""
    side = closing_side(guard.side)
    limit = chase_limit(side, ltp, attempt, on=on, tick=guard.tick)
    return _children(guard, strategy_id, RISK_EXIT, freeze_qty, seq, limit, None, quantity)


def reentry_children(
    guard: Guard, strategy_id: str, ltp: Decimal, freeze_qty: int, on: date, seq: int
) -> list[ChildOrder]:
    """Protected LIMIT orders entering the guard's leg again, same side and quantity."""
    limit = protected_limit_price(guard.side, ltp, on=on, tick=guard.tick)
    return _children(
        guard, strategy_id, REENTRY, freeze_qty, seq, limit, None, guard.quantity, guard.side
    )


def _children(
    guard: Guard,
    strategy_id: str,
    phase: str,
    freeze_qty: int,
    seq: int,
    limit: Decimal,
    trigger: Decimal | None,
    quantity: int | None = None,
    side: str | None = None,
) -> list[ChildOrder]:
    contract = guard.doc["contract"]
    lot = int(contract["lot_size"])
    slices: Sequence[int] = slice_quantity(quantity or guard.quantity, lot, freeze_qty)
    return [
        ChildOrder(
            account_id=guard.account_id,
            broker=str(contract.get("broker", "")),
            leg=guard.leg,
            slice_no=n,
            side=side or closing_side(guard.side).value,
            key=guard.key,
            exchange=str(contract["exchange"]),
            lot_size=lot,
            tick_size=guard.tick,
            quantity=units,
            limit_price=limit,
            product=str(contract.get("product", "MIS")),
            tag=unique_tag(strategy_id, phase, seq + n),
            trigger=trigger,
        )
        for n, units in enumerate(slices)
    ]
