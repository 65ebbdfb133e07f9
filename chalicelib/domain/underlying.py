"""The closed sets of names the market model speaks: underlyings, exchanges, option types.

They are enums rather than strings so that a typo ("NIFTY50", "NSE") fails at the edge where a
request is parsed, not deep inside order building. The exchange an underlying trades on is a fact
of the product (SENSEX options are BSE contracts, routed to BFO), not a dated rule: it lives here.
"""

from __future__ import annotations

from enum import StrEnum


class Exchange(StrEnum):
    """Derivatives segments, in the spelling Kite, Angel and Noren use for orders."""

    NFO = "NFO"
    BFO = "BFO"


class OptionType(StrEnum):
    """Call (CE) or put (PE)."""

    CE = "CE"
    PE = "PE"


class Underlying(StrEnum):
    """Index underlyings whose options the platform trades."""

    NIFTY = "NIFTY"
    BANKNIFTY = "BANKNIFTY"
    FINNIFTY = "FINNIFTY"
    MIDCPNIFTY = "MIDCPNIFTY"
    NIFTYNXT50 = "NIFTYNXT50"
    SENSEX = "SENSEX"

    @property
    def exchange(self) -> Exchange:
        """SENSEX is a BSE product (BFO); every other underlying here is NSE (NFO)."""
        return Exchange.BFO if self is Underlying.SENSEX else Exchange.NFO


#: Underlying names longest first, so that prefix matching in symbol parsers never takes NIFTY
#: for the start of NIFTYNXT50.
UNDERLYINGS_LONGEST_FIRST: tuple[Underlying, ...] = tuple(
    sorted(Underlying, key=lambda u: len(u.value), reverse=True)
)
