"""The quote port: a spot price and an option chain, with a label saying where they came from.

The preview (and later the planner) must never pass off made-up numbers as market data, so every
source names itself and says whether its prices are live.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Protocol

from chalicelib.domain.option_chain import OptionChain
from chalicelib.domain.underlying import Underlying


class QuoteSource(Protocol):
    name: str
    live: bool
    note: str

    def spot(self, underlying: Underlying, at: datetime) -> Decimal: ...

    def chain(
        self,
        underlying: Underlying,
        strikes: tuple[Decimal, ...],
        at: datetime,
        expiry_time: datetime,
    ) -> OptionChain: ...
