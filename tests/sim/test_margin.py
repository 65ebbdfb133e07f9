"""The simulated exchange's SPAN-like margin (pure): a short pays a share of the notional less its
OTM amount, never below the floor; a long pays its premium; a spread pays at most its width."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from chalicelib.domain.instrument import ContractKey
from chalicelib.domain.underlying import OptionType, Underlying
from sim.margin import FLOOR_RATE, SHORT_RATE, MarginLeg, requirement

SPOT = Decimal(24000)
EXPIRY = date(2026, 12, 1)


def _leg(strike: int, side: str, kind: str = "CE", quantity: int = 75, price: str = "100"):
    key = ContractKey(Underlying.NIFTY, EXPIRY, Decimal(strike), OptionType(kind))
    return MarginLeg(key, side, quantity, Decimal(price))


def _total(*legs: MarginLeg) -> Decimal:
    return requirement(list(legs), lambda _u: SPOT).total


def test_a_short_pays_a_share_of_the_notional_less_its_otm_amount_with_a_floor():
    atm = _total(_leg(24000, "SELL"))
    assert atm == SHORT_RATE * SPOT * 75
    otm = _total(_leg(24500, "SELL"))
    assert otm == (SHORT_RATE * SPOT - 500) * 75
    far = _total(_leg(27000, "SELL"))
    assert far == FLOOR_RATE * SPOT * 75  # deep OTM is never free
    put = _total(_leg(23500, "SELL", "PE"))
    assert put == otm  # a put is OTM below the spot


def test_a_long_pays_its_premium_and_a_spread_at_most_its_width():
    assert _total(_leg(24200, "BUY", price="55.5")) == Decimal("55.5") * 75
    spread = requirement([_leg(24000, "SELL"), _leg(24200, "BUY", price="40")], lambda _u: SPOT)
    assert spread.total == 200 * 75 + 40 * 75
    assert spread.benefit == (SHORT_RATE * SPOT - 200) * 75
    # a put wing does not hedge a short call
    assert _total(_leg(24000, "SELL"), _leg(23800, "BUY", "PE", price="40")) == (
        SHORT_RATE * SPOT * 75 + 40 * 75
    )
    # half the short hedged: only the hedged units get the benefit
    half = _total(_leg(24000, "SELL", quantity=150), _leg(24200, "BUY", price="40"))
    assert half == SHORT_RATE * SPOT * 75 + 200 * 75 + 40 * 75
