"""What the simulated market quotes: listed contracts, index levels and option premiums.

Prices are a pure function of (seed, clock) (see ``sim.market``) unless a scenario pins them:
a pinned contract or index answers its pin at every moment until released. The board knows
nothing of orders; the exchange re-matches resting orders when a pin moves.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from chalicelib.domain.instrument import ContractKey, Instrument
from chalicelib.domain.money import TICK, is_on_tick
from chalicelib.domain.underlying import Underlying
from sim.errors import OrderRefused
from sim.market import Listing, instrument_for, listing_for, option_price, spot_at
from sim.orderbook import key_from_json, key_to_json

#: Index names brokers use for spot quotes, besides the underlying's own name.
SPOT_ALIASES = {
    "NIFTY 50": Underlying.NIFTY,
    "NIFTY BANK": Underlying.BANKNIFTY,
    "NIFTY FIN SERVICE": Underlying.FINNIFTY,
    "NIFTY MID SELECT": Underlying.MIDCPNIFTY,
}
#: Exchange / segment prefixes brokers put before a symbol or token.
PREFIXES = ("NFO:", "BFO:", "NSE:", "BSE:", "NSE_INDEX|", "BSE_INDEX|")


class PriceBoard:
    """The seeded model's prices with a scenario's pins over them (see the module docstring)."""

    def __init__(self, seed: int, now: Callable[[], datetime]) -> None:
        self.seed = seed
        self._now = now
        self.pins: dict[ContractKey, Decimal] = {}
        self.spot_pins: dict[Underlying, Decimal] = {}

    def listing(self, day: date | None = None) -> Listing:
        """What is listed on ``day`` (default: today by the clock)."""
        return listing_for(self.seed, day or self._now().date())

    def resolve(self, name: str | ContractKey) -> Instrument:
        """The listed contract for a key or any broker symbol / token; ``OrderRefused`` if none."""
        listing = self.listing()
        if isinstance(name, ContractKey):
            found = next((i for i in listing.instruments if i.key == name), None)
        else:
            found = listing.find(name)
            if found is None:
                for prefix in PREFIXES:
                    if name.upper().startswith(prefix):
                        found = listing.find(name[len(prefix) :])
                        break
        if found is None:
            raise OrderRefused("instrument", f"Invalid instrument: {name}")
        return found

    def spot(self, underlying: str | Underlying) -> Decimal:
        """Index level now (a pinned index answers its pin)."""
        pinned = self.spot_pins.get(Underlying(underlying))
        if pinned is not None:
            return pinned
        return spot_at(self.seed, Underlying(underlying), self._now())

    def pin_spot(self, underlying: Underlying, level: Decimal | str | None) -> None:
        """Pin an index level, or release it (``None``); ``ValueError`` unless positive."""
        if level is None:
            self.spot_pins.pop(underlying, None)
            return
        value = Decimal(str(level))
        if not value.is_finite() or value <= 0:
            raise ValueError(f"index level {level} must be positive")
        self.spot_pins[underlying] = value

    def price(self, key: ContractKey, at: datetime | None = None) -> Decimal:
        """Option premium of ``key`` at ``at`` (default now); a pinned contract answers its pin."""
        pinned = self.pins.get(key)
        if pinned is not None:
            return pinned
        moment = at or self._now()
        return option_price(key, spot_at(self.seed, key.underlying, moment), moment)

    def pin_value(self, key: ContractKey, price: Decimal | int | str) -> Decimal:
        """``price`` as a pin for ``key``: ``ValueError`` unless positive and on its tick (an
        off-tick premium is a mistake in the scenario, not something to snap silently)."""
        try:
            value = Decimal(str(price))
        except ArithmeticError:
            raise ValueError(f"price {price!r} is not a number") from None
        tick = instrument_for(key).tick_size or TICK
        if not value.is_finite() or value <= 0 or not is_on_tick(value, tick):
            raise ValueError(f"price {price} must be positive and on the {tick} tick")
        return value

    def pin_price(self, key: ContractKey, value: Decimal | None) -> None:
        """Pin a checked premium (``pin_value``), or release it (``None``)."""
        if value is None:
            self.pins.pop(key, None)
        else:
            self.pins[key] = value

    def ltp(self, instrument: str | ContractKey) -> Decimal:
        """Last price of an option (by key, symbol or token) or of an index (by name)."""
        if isinstance(instrument, ContractKey):
            return self.price(instrument)
        name = instrument.strip().upper()
        for prefix in PREFIXES:
            name = name.removeprefix(prefix)
        if name in SPOT_ALIASES:
            return self.spot(SPOT_ALIASES[name])
        if name in Underlying.__members__:
            return self.spot(name)
        return self.price(self.resolve(instrument).key)

    def to_json(self) -> dict[str, Any]:
        """The pins, as the exchange's state file keeps them."""
        return {
            "pins": [{"key": key_to_json(k), "price": str(p)} for k, p in self.pins.items()],
            "spot_pins": {u.value: str(p) for u, p in self.spot_pins.items()},
        }

    def load_json(self, doc: dict[str, Any]) -> None:
        """Restore the pins of a state file (older files have none)."""
        self.pins = {key_from_json(p["key"]): Decimal(p["price"]) for p in doc.get("pins", [])}
        self.spot_pins = {
            Underlying(u): Decimal(p) for u, p in (doc.get("spot_pins") or {}).items()
        }
