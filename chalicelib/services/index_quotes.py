"""Live index levels and option chains for the risk engine, through the strategy's own accounts.

The underlying exits and RE_EXECUTE re-entries need the index level while the strategy runs; only
the Kite dialect (Zerodha, paper) quotes indices, so the first such account of the strategy with a
session answers (strategy validation refuses these rules without one). Never a synthetic price:
with no answer the rule is blind and says so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from chalicelib.domain.market_errors import MarketRuleError
from chalicelib.domain.market_model import MarketModel
from chalicelib.domain.strategy import Strategy
from chalicelib.ports.broker import Broker
from chalicelib.ports.broker_errors import BrokerError
from chalicelib.services.broker_quotes import KiteQuotes

log = logging.getLogger(__name__)


def index_quotes(
    adapter_of: Callable[[str], Broker | None], strategy: Strategy, market: MarketModel
) -> KiteQuotes | None:
    """Quotes through the strategy's first account whose broker gives index levels."""
    for account_id in strategy.account_ids():
        adapter = adapter_of(account_id)
        if adapter is not None and hasattr(adapter, "index_ltp"):
            return KiteQuotes(adapter, market)
    return None


def index_level(
    adapter_of: Callable[[str], Broker | None],
    strategy: Strategy,
    market: MarketModel,
    at: datetime,
) -> Decimal | None:
    """The underlying's level now, or None (no such account, or its quote failed)."""
    quotes = index_quotes(adapter_of, strategy, market)
    if quotes is None:
        return None
    try:
        return quotes.spot(strategy.underlying, at)
    except (BrokerError, MarketRuleError) as error:
        log.warning("index level unavailable", extra={"underlying": strategy.underlying.value,
                                                      "error": str(error)})  # fmt: skip
        return None
