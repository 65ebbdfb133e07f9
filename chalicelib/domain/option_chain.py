"""An option chain snapshot: the listed strikes of one expiry with CE and PE premiums.

Strikes come from the instrument master (only listed strikes may be chosen); premiums are last
traded prices or mids from market data and may be missing for an illiquid strike (``None``).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from chalicelib.domain.market_errors import MarketDataError, NoSuchStrike
from chalicelib.domain.underlying import OptionType


@dataclass(frozen=True, slots=True)
class ChainQuote:
    """Premiums at one strike; ``None`` when that side has no usable quote."""

    strike: Decimal
    ce: Decimal | None = None
    pe: Decimal | None = None

    def premium(self, option_type: OptionType) -> Decimal | None:
        """The quote for ``option_type``."""
        return self.ce if option_type is OptionType.CE else self.pe


class OptionChain:
    """Immutable, strike-sorted chain with O(log n) nearest-strike lookup."""

    def __init__(self, quotes: Iterable[ChainQuote]) -> None:
        by_strike: dict[Decimal, ChainQuote] = {}
        for quote in quotes:
            if quote.strike in by_strike:
                raise MarketDataError(f"strike {quote.strike} quoted twice", field="chain")
            for side in (quote.ce, quote.pe):
                if side is not None and side < 0:
                    raise MarketDataError(f"negative premium at {quote.strike}", field="chain")
            by_strike[quote.strike] = quote
        if not by_strike:
            raise MarketDataError("option chain is empty", field="chain")
        self._quotes = by_strike
        self.strikes: tuple[Decimal, ...] = tuple(sorted(by_strike))

    @classmethod
    def from_premiums(
        cls,
        strikes: Iterable[Decimal],
        ce: Mapping[Decimal, Decimal | None],
        pe: Mapping[Decimal, Decimal | None],
    ) -> OptionChain:
        """Build from listed strikes plus per-side premium maps (missing = no quote)."""
        return cls(ChainQuote(k, ce.get(k), pe.get(k)) for k in strikes)

    def __contains__(self, strike: object) -> bool:
        return strike in self._quotes

    def __len__(self) -> int:
        return len(self.strikes)

    def quote(self, strike: Decimal) -> ChainQuote:
        """The quote row at a listed strike, or ``NoSuchStrike``."""
        try:
            return self._quotes[strike]
        except KeyError:
            raise NoSuchStrike(f"strike {strike} is not listed", field="strike") from None

    def premium(self, strike: Decimal, option_type: OptionType) -> Decimal:
        """The premium at a listed strike, or ``MarketDataError`` when it has no quote."""
        value = self.quote(strike).premium(option_type)
        if value is None:
            raise MarketDataError(f"no {option_type} quote at strike {strike}", field="chain")
        return value

    def nearest_index(self, target: Decimal) -> int:
        """Index of the listed strike nearest ``target``; an exact tie goes to the LOWER strike."""
        i = bisect_left(self.strikes, target)
        if i == 0:
            return 0
        if i == len(self.strikes):
            return i - 1
        below, above = self.strikes[i - 1], self.strikes[i]
        return i if above - target < target - below else i - 1
