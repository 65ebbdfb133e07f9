"""Synthetic, deterministic quotes for previews before a broker's quotes are connected.

Spot is a reference level per underlying nudged by a seeded, per-minute walk; option premiums come
from Black-Scholes with a simple volatility smile. Same inputs, same numbers, so a preview is
reproducible. They are NOT market prices: every response that uses them says so.
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime
from decimal import Decimal

from chalicelib.domain.money import Rounding, snap_to_tick
from chalicelib.domain.option_chain import ChainQuote, OptionChain
from chalicelib.domain.pricing import bs_price
from chalicelib.domain.underlying import OptionType, Underlying

REFERENCE_SPOT = {
    Underlying.NIFTY: Decimal(26000),
    Underlying.BANKNIFTY: Decimal(59000),
    Underlying.FINNIFTY: Decimal(27500),
    Underlying.MIDCPNIFTY: Decimal(13500),
    Underlying.NIFTYNXT50: Decimal(69000),
    Underlying.SENSEX: Decimal(85000),
}
BASE_VOL = {Underlying.BANKNIFTY: 0.15, Underlying.MIDCPNIFTY: 0.18, Underlying.SENSEX: 0.13}
SECONDS_PER_YEAR = 365 * 24 * 3600
MIN_YEARS = 1 / (365 * 24 * 4)  # 15 minutes: keeps expiry-day premiums finite and non-zero
TICK = Decimal("0.05")


class SyntheticQuotes:
    name = "synthetic"
    live = False
    note = (
        "Synthetic Black-Scholes quotes (reference spot, seeded walk, volatility smile): "
        "not market prices. Connect a broker account for live quotes."
    )

    def __init__(self, seed: int = 7) -> None:
        self._seed = seed

    def spot(self, underlying: Underlying, at: datetime) -> Decimal:
        minute = int(at.timestamp() // 60)
        digest = hashlib.blake2b(
            f"{self._seed}:{underlying}:{minute // 60}".encode(), digest_size=8
        )
        drift = (int.from_bytes(digest.digest(), "big") / 2**64 - 0.5) * 0.04  # within +-2 %
        return (REFERENCE_SPOT[underlying] * Decimal(repr(1 + drift))).quantize(Decimal("0.05"))

    def chain(
        self,
        underlying: Underlying,
        strikes: tuple[Decimal, ...],
        at: datetime,
        expiry_time: datetime,
    ) -> OptionChain:
        spot = self.spot(underlying, at)
        years = max((expiry_time - at).total_seconds() / SECONDS_PER_YEAR, MIN_YEARS)
        base = BASE_VOL.get(underlying, 0.12)
        quotes = []
        for strike in strikes:
            moneyness = math.log(float(strike) / float(spot))
            vol = base + 0.8 * moneyness * moneyness - 0.05 * moneyness  # smile with a put skew
            quotes.append(
                ChainQuote(
                    strike,
                    _premium(OptionType.CE, spot, strike, years, vol),
                    _premium(OptionType.PE, spot, strike, years, vol),
                )
            )
        return OptionChain(quotes)


def _premium(kind: OptionType, spot: Decimal, strike: Decimal, years: float, vol: float) -> Decimal:
    price = bs_price(kind, spot, strike, years, vol)
    return max(snap_to_tick(price, TICK, Rounding.NEAREST), TICK)
