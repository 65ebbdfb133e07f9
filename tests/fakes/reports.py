"""In-memory risk books (``ports.reports.RiskBooks``) and a quote source for the reports' unit
tests; the orders, positions and executions come from ``tests.fakes.kill_switch_orders``."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from chalicelib.domain.instrument import ContractKey
from chalicelib.domain.option_chain import ChainQuote, OptionChain
from chalicelib.domain.underlying import OptionType, Underlying
from tests.fakes.records import Execution, RiskBook


class FakeRiskBooks:
    def __init__(self) -> None:
        self.books: dict[tuple[str, str, str], RiskBook] = {}  # (uid, date, strategy)
        self.event_log: dict[tuple[str, str], list[dict[str, Any]]] = {}  # (uid, execution sk)

    def add(self, book: RiskBook) -> RiskBook:
        self.books[(book.uid, book.trade_date, book.strategy_id)] = copy.deepcopy(book)
        return book

    def record(self, uid: str, execution_sk: str, *events: dict[str, Any]) -> None:
        self.event_log.setdefault((uid, execution_sk), []).extend(events)

    def get(self, uid: str, trade_date: str, strategy_id: str) -> RiskBook | None:
        return copy.deepcopy(self.books.get((uid, trade_date, strategy_id)))

    def of_user(self, uid: str, trade_date: str) -> list[RiskBook]:
        found = sorted(self.books.items())
        return [copy.deepcopy(b) for (u, d, _), b in found if u == uid and d == trade_date]

    def events(self, execution: Execution) -> list[dict[str, Any]]:
        return copy.deepcopy(self.event_log.get((execution.uid, execution.sk), []))


@dataclass
class FakeQuotes:
    """A labelled quote source with premiums per contract; a contract it lacks has no quote."""

    premiums: dict[ContractKey, Decimal] = field(default_factory=dict)
    name: str = "fake"
    live: bool = False
    note: str = "test prices"
    asked: list[ContractKey] = field(default_factory=list)

    def spot(self, underlying: Underlying, at: datetime) -> Decimal:
        return Decimal("26000")

    def chain(
        self,
        underlying: Underlying,
        strikes: tuple[Decimal, ...],
        at: datetime,
        expiry_time: datetime,
    ) -> OptionChain:
        rows = []
        for strike in strikes:
            key = {t: ContractKey(underlying, expiry_time.date(), strike, t) for t in OptionType}
            self.asked.extend(key.values())
            rows.append(
                ChainQuote(
                    strike,
                    ce=self.premiums.get(key[OptionType.CE]),
                    pe=self.premiums.get(key[OptionType.PE]),
                )
            )
        return OptionChain(rows)
