"""Quotes from a logged-in Kite-dialect account (Zerodha, or paper on the simulator).

One request for the spot and one for the whole chain of a series (Kite takes up to 1,000
instruments per LTP call), so a tick costs two quote calls per underlying whatever the number of
legs or accounts.

A use case over the broker port (it only asks an adapter for prices), so it lives with the
services; the adapter is whatever ``BrokerAccess`` built for the account.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from chalicelib.domain.instrument import ContractKey, Instrument
from chalicelib.domain.market_errors import MarketDataError
from chalicelib.domain.market_model import MarketModel
from chalicelib.domain.option_chain import ChainQuote, OptionChain
from chalicelib.domain.underlying import OptionType, Underlying

KITE_INDEX = {
    Underlying.NIFTY: "NSE:NIFTY 50",
    Underlying.BANKNIFTY: "NSE:NIFTY BANK",
    Underlying.FINNIFTY: "NSE:NIFTY FIN SERVICE",
    Underlying.MIDCPNIFTY: "NSE:NIFTY MID SELECT",
    Underlying.NIFTYNXT50: "NSE:NIFTY NEXT 50",
    Underlying.SENSEX: "BSE:SENSEX",
}


class KiteQuotes:
    live = True
    note = "Last traded prices from the broker account's quote API."

    def __init__(self, adapter: Any, market: MarketModel, name: str = "kite") -> None:
        self._adapter = adapter
        self._market = market
        self.name = name

    def spot(self, underlying: Underlying, at: datetime) -> Decimal:
        index = KITE_INDEX[underlying]
        prices = self._adapter.index_ltp([index])
        if index not in prices:
            raise MarketDataError(f"no spot quote for {index}", field="spot")
        return prices[index]

    def chain(
        self,
        underlying: Underlying,
        strikes: tuple[Decimal, ...],
        at: datetime,
        expiry_time: datetime,
    ) -> OptionChain:
        expiry = expiry_time.date()
        spec = self._market.contract_spec(underlying, expiry, at.date())
        instruments = [
            Instrument(
                ContractKey(underlying, expiry, k, t), spec.exchange, spec.lot_size, spec.tick_size
            )
            for k in strikes
            for t in (OptionType.CE, OptionType.PE)
        ]
        prices = self._adapter.quotes(instruments)
        quotes = [
            ChainQuote(
                k,
                prices.get(ContractKey(underlying, expiry, k, OptionType.CE)),
                prices.get(ContractKey(underlying, expiry, k, OptionType.PE)),
            )
            for k in strikes
        ]
        if all(q.ce is None and q.pe is None for q in quotes):
            raise MarketDataError(f"no option quotes for {underlying} {expiry}", field="chain")
        return OptionChain(quotes)
