"""The day report (15:45 IST): per strategy and account, what the day's orders did.

Computed from the day's orders alone (each order's side, filled quantity, average price, limit
price and timings), so it describes that day even when a position spans days:

- realised P&L: per contract, the quantity both bought and sold today at the two average prices;
  whatever is not matched is reported as open quantity, not valued;
- slippage: per filled order against its own limit price, in rupees against the trader
  (BUY: (average - limit) x filled; SELL: (limit - average) x filled); negative = filled better
  than the limit, which is usual since limits carry a protection buffer;
- timing: the worst ``sent_at - scheduled_at`` of the ENTRY and of the EXIT orders, in ms.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

TIMED_PHASES = ("ENTRY", "EXIT")


@dataclass(frozen=True)
class DayOrder:
    strategy: str
    account: str
    phase: str
    side: str  # BUY | SELL
    contract: str
    filled: int
    average_price: Decimal | None
    limit_price: Decimal | None
    status: str
    scheduled_at: datetime | None = None
    sent_at: datetime | None = None


@dataclass
class ReportRow:
    strategy: str
    account: str
    realised: Decimal = Decimal("0")
    open_quantity: int = 0
    fills: int = 0
    failed: int = 0
    slippage: Decimal = Decimal("0")
    latency_ms: dict[str, int] = field(default_factory=dict)


def build(orders: Iterable[DayOrder]) -> list[ReportRow]:
    groups: dict[tuple[str, str], list[DayOrder]] = defaultdict(list)
    for order in orders:
        groups[(order.strategy, order.account)].append(order)
    return [_row(strategy, account, items) for (strategy, account), items in sorted(groups.items())]


def _row(strategy: str, account: str, orders: list[DayOrder]) -> ReportRow:
    row = ReportRow(strategy, account)
    bought: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])  # qty, value
    sold: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for order in orders:
        if order.status in ("REJECTED", "CANCELLED", "FAILED") and not order.filled:
            row.failed += 1
        if order.phase in TIMED_PHASES and order.scheduled_at and order.sent_at:
            ms = round((order.sent_at - order.scheduled_at).total_seconds() * 1000)
            row.latency_ms[order.phase] = max(row.latency_ms.get(order.phase, ms), ms)
        if not order.filled or order.average_price is None:
            continue
        row.fills += 1
        book = bought if order.side == "BUY" else sold
        book[order.contract][0] += order.filled
        book[order.contract][1] += order.filled * order.average_price
        if order.limit_price is not None:
            gap = order.average_price - order.limit_price
            row.slippage += (gap if order.side == "BUY" else -gap) * order.filled
    for contract in set(bought) | set(sold):
        (bq, bv), (sq, sv) = bought[contract], sold[contract]
        matched = min(bq, sq)
        if matched:
            row.realised += matched * (sv / sq - bv / bq)
        row.open_quantity += int(abs(bq - sq))
    row.realised = row.realised.quantize(Decimal("0.01"))
    row.slippage = row.slippage.quantize(Decimal("0.01"))
    return row


def lines(rows: Iterable[ReportRow]) -> list[str]:
    """The report as text lines, one block per strategy and account, then the day's total."""
    out: list[str] = []
    total = Decimal("0.00")
    for row in rows:
        total += row.realised
        timing = ", ".join(f"{p.lower()} T+{row.latency_ms[p]} ms" for p in TIMED_PHASES
                           if p in row.latency_ms)  # fmt: skip
        out.append(f"{row.strategy} / {row.account}")
        out.append(f"  realised {_rupees(row.realised)}; fills {row.fills}; failed {row.failed}")
        out.append(f"  slippage vs limit {_rupees(row.slippage)}; open qty {row.open_quantity}")
        if timing:
            out.append(f"  timing: {timing}")
    out.append(f"Total realised {_rupees(total)}")
    return out


def _rupees(value: Decimal) -> str:
    sign = "-" if value < 0 else ""
    return f"{sign}\u20b9{abs(value):,.2f}"
