"""Net positions: an account's fills grouped by contract and product, marked at a price.

Pure: the exchange hands in the fills and how to price a contract, so a position is what its
trades say and nothing else (no stored running totals to drift from the trade list).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from chalicelib.domain.instrument import ContractKey
from sim.orderbook import Trade


@dataclass(frozen=True, slots=True)
class Position:
    """Net position of one account in one contract and product."""

    account: str
    key: ContractKey
    product: str
    quantity: int
    buy_quantity: int
    sell_quantity: int
    buy_value: Decimal
    sell_value: Decimal
    average_price: Decimal
    last_price: Decimal
    pnl: Decimal
    realised: Decimal
    unrealised: Decimal


def positions_of(
    account: str, trades: Iterable[Trade], price: Callable[[ContractKey], Decimal]
) -> list[Position]:
    """One position per (contract, product) that ``account`` traded, in first-fill order."""
    grouped: dict[tuple[ContractKey, str], list[Trade]] = {}
    for trade in trades:
        grouped.setdefault((trade.key, trade.product), []).append(trade)
    return [
        net_position(account, key, product, fills, price(key))
        for (key, product), fills in grouped.items()
    ]


def net_position(
    account: str, key: ContractKey, product: str, trades: list[Trade], ltp: Decimal
) -> Position:
    """The net of ``trades`` marked at ``ltp``: average of the open side, realised and
    unrealised P&L."""
    buy_q = sum(t.quantity for t in trades if t.side == "BUY")
    sell_q = sum(t.quantity for t in trades if t.side == "SELL")
    buy_v = sum((t.price * t.quantity for t in trades if t.side == "BUY"), Decimal(0))
    sell_v = sum((t.price * t.quantity for t in trades if t.side == "SELL"), Decimal(0))
    net = buy_q - sell_q
    pnl = sell_v - buy_v + net * ltp
    if net > 0:
        average = buy_v / buy_q
    elif net < 0:
        average = sell_v / sell_q
    else:
        average = Decimal(0)
    average = average.quantize(Decimal("0.01"))
    unrealised = (ltp - average) * net if net else Decimal(0)
    return Position(
        account, key, product, net, buy_q, sell_q, buy_v, sell_v, average, ltp, pnl,
        pnl - unrealised, unrealised,
    )  # fmt: skip
