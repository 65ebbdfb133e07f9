"""What a strategy would send at a given moment, per account and leg, without sending anything.

It runs the same market model the planner uses: expiry resolution, listed strikes, strike
selection on a chain, contract spec (lot size by contract, freeze limit), sizing with slices,
protected limit prices and the broker's own symbol. A leg that cannot be resolved says why instead
of failing the whole preview.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal
from typing import Any

from chalicelib.domain.brokers import CATALOGUE
from chalicelib.domain.calendar import IST, default_calendar
from chalicelib.domain.instrument import Broker, ContractKey
from chalicelib.domain.market_errors import MarketDataError, MarketRuleError
from chalicelib.domain.market_model import MarketModel
from chalicelib.domain.sizing import order_slices
from chalicelib.domain.strategy import Leg, Strategy
from chalicelib.domain.strategy_documents import from_document
from chalicelib.domain.symbols import angel_symbol
from chalicelib.errors import DomainError
from chalicelib.ports.accounts import StrategyReader
from chalicelib.ports.broker_errors import BrokerError
from chalicelib.services.order_builder import OrderBuilder, ResolvedLeg, market_error, order_tag
from chalicelib.services.quotes import QuoteSource

log = logging.getLogger(__name__)

# Which symbol dialect each broker speaks (paper trades Kite-style names).
DIALECT: dict[str, Broker] = {e.name: e.symbols for e in CATALOGUE}


#: (uid, the strategy's account ids) -> the live quotes the planner would use for them, or None.
LiveQuotes = Callable[[str, Sequence[str]], QuoteSource | None]


@dataclass
class PreviewService:
    repo: StrategyReader
    market: MarketModel
    quotes: QuoteSource
    # The planner picks strikes on the live quotes of the strategy's own accounts (Zerodha, or a
    # paper account priced by the simulator or a live account): a preview on other prices would
    # show strikes the entry will not send.
    live_quotes: LiveQuotes | None = None

    def preview(self, uid: str, strategy_id: str, at: datetime) -> dict[str, Any]:
        item = self.repo.get_strategy(uid, strategy_id)
        strategy = from_document(item.spec)
        brokers = {a.account_id: a.broker for a in self.repo.list_accounts(uid)}
        at = at.astimezone(IST)
        calendar = default_calendar()
        quotes = self._quotes(uid, list(strategy.legs_by_account()))
        try:
            series, resolved = self._resolve(quotes, strategy, at)
        except (BrokerError, MarketDataError) as error:
            if quotes is self.quotes:
                raise
            log.info("preview on model quotes", extra={"user": uid, "reason": str(error)})
            quotes = self.quotes  # the live source failed now: the model's, labelled as such
            series, resolved = self._resolve(quotes, strategy, at)
        spec, expiry, spot = series.spec, series.expiry, series.spot
        accounts = []
        for account_id, account_legs in strategy.legs_by_account().items():
            broker = brokers.get(account_id)
            accounts.append(
                {
                    "account_id": account_id,
                    "broker": broker,
                    "legs": [
                        self._account_leg(
                            resolved[al.index],
                            strategy.legs[al.index],
                            al.multiplier,
                            broker,
                            spec,
                            strategy_id,
                        )
                        for al in account_legs
                    ],
                }
            )
        trading_day = calendar.is_trading_day(at.date())
        return {
            "strategy_id": strategy_id,
            "at": at.isoformat(),
            "trading_day": trading_day,
            "would_fire": trading_day and _within(at.time(), calendar.fo_session_bounds(at.date())),
            "underlying": strategy.underlying.value,
            "exchange": spec.exchange.value,
            "expiry": expiry.isoformat(),
            "spot": str(spot),
            "contract": {
                "lot_size": spec.lot_size,
                "freeze_qty": spec.freeze_qty,
                "max_lots_per_order": spec.max_lots_per_order,
                "strike_step": str(spec.strike_step),
                "tick_size": str(spec.tick_size),
            },
            "quotes": {"source": quotes.name, "live": quotes.live, "note": quotes.note},
            "accounts": accounts,
        }

    def _resolve(
        self, quotes: QuoteSource, strategy: Strategy, at: datetime
    ) -> tuple[Any, list[ResolvedLeg]]:
        builder = OrderBuilder(self.market, quotes)
        series = builder.series(strategy.underlying, strategy.expiry, at)
        return series, [
            builder.resolve(
                series, i, leg.side.value, leg.option_type, leg.strike.method, leg.strike.value
            )
            for i, leg in enumerate(strategy.legs)
        ]

    def _quotes(self, uid: str, account_ids: Sequence[str]) -> QuoteSource:
        """The strategy's accounts' live quotes when one of them has them, else ``quotes``."""
        if self.live_quotes is None:
            return self.quotes
        try:
            return self.live_quotes(uid, account_ids) or self.quotes
        except DomainError as error:  # expired session, broker down: say so, show the model's
            log.info("preview on model quotes", extra={"user": uid, "reason": str(error)})
            return self.quotes

    def _account_leg(
        self,
        resolved: ResolvedLeg,
        leg: Leg,
        multiplier: Decimal,
        broker: str | None,
        spec: Any,
        strategy_id: str,
    ) -> dict[str, Any]:
        view: dict[str, Any] = {
            "leg": resolved.index,
            "side": leg.side.value,
            "option_type": leg.option_type.value,
            "lots": leg.lots,
            "multiplier": str(multiplier),
            "tag": order_tag(strategy_id, "ENTRY", resolved.index, 0),
        }
        if resolved.key is None:
            return {**view, "error": resolved.error}
        try:
            slices = order_slices(leg.lots, multiplier, spec)
        except MarketRuleError as error:
            return {
                **view,
                "strike": str(resolved.key.strike),
                "error": market_error(error, "lots"),
            }
        return {
            **view,
            "strike": str(resolved.key.strike),
            "ltp": str(resolved.ltp),
            "limit_price": str(resolved.limit_price),
            "quantity": sum(slices),
            "slices": slices,
            "symbol": self._symbol(broker, resolved.key),
        }

    def _symbol(self, broker: str | None, key: ContractKey) -> dict[str, Any]:
        dialect = DIALECT.get(broker or "")
        if dialect is None:
            return {"dialect": None, "symbol": None, "token": None, "note": "unknown broker"}
        try:
            ref = self.market.broker_ref(dialect, key)
            return {"dialect": dialect.value, "symbol": ref.symbol, "token": ref.token or None}
        except MarketRuleError:
            symbol = angel_symbol(key) if dialect is Broker.ANGEL else None
            return {
                "dialect": dialect.value,
                "symbol": symbol,
                "token": None,
                "note": f"the {dialect.value} token comes from its instrument master at execution",
            }


def _within(moment: time, bounds: tuple[time, time]) -> bool:
    return bounds[0] <= moment < bounds[1]
