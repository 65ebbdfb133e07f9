"""Trading accounts at the simulated exchange: who may place orders and with what funds."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

#: A paper account starts with one crore.
DEFAULT_FUNDS = Decimal("10000000")


@dataclass(slots=True)
class Account:
    """A trading account at the exchange."""

    account_id: str
    funds: Decimal = DEFAULT_FUNDS
