"""From a strategy's legs (or its open positions) to child orders, before slot T.

One place resolves a series (expiry, contract spec, spot, chain) and each leg (strike, LTP,
protected limit price); the preview shows the result and the planner sends it, so what a trader
previews is what the platform sends. Quotes are fetched once per underlying and slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from chalicelib.domain.calendar import IST, default_calendar
from chalicelib.domain.contracts import ContractSpec
from chalicelib.domain.expiry import ExpiryChoice
from chalicelib.domain.instrument import ContractKey, Instrument
from chalicelib.domain.market_errors import MarketDataError, MarketRuleError
from chalicelib.domain.market_model import MarketModel
from chalicelib.domain.option_chain import OptionChain
from chalicelib.domain.protection import protected_limit_price
from chalicelib.domain.sizing import order_slices
from chalicelib.domain.strike_selection import StrikeMethod, select_strike
from chalicelib.domain.underlying import OptionType, Underlying
from chalicelib.services.quotes import QuoteSource


def order_tag(strategy_id: str, phase: str, leg: int, slice_no: int) -> str:
    """<= 20 alphanumerics, unique per account and day: strategy, phase, leg and slice."""
    return f"{strategy_id[:10]}{phase[:1]}{leg:x}{slice_no:02d}"


@dataclass(frozen=True)
class Series:
    """Everything shared by the legs of one strategy at one moment."""

    underlying: Underlying
    expiry: date
    spec: ContractSpec
    spot: Decimal
    chain: OptionChain
    expiry_time: datetime
    at: datetime


@dataclass(frozen=True)
class ResolvedLeg:
    index: int
    side: str
    option_type: OptionType
    key: ContractKey | None
    ltp: Decimal | None
    limit_price: Decimal | None
    error: dict[str, Any] | None


@dataclass(frozen=True)
class ChildOrder:
    """One order to send: JSON-safe through `to_dict`, so a plan can cross Step Functions."""

    account_id: str
    broker: str
    leg: int
    slice_no: int
    side: str
    key: ContractKey
    exchange: str
    lot_size: int
    tick_size: Decimal
    quantity: int
    limit_price: Decimal
    product: str
    tag: str
    trigger: Decimal | None = None  # set for a stop-loss LIMIT order

    def instrument(self, market: MarketModel) -> Instrument:
        try:
            return market.instrument(self.key)
        except MarketRuleError:
            from chalicelib.domain.underlying import Exchange

            return Instrument(self.key, Exchange(self.exchange), self.lot_size, self.tick_size)

    def to_dict(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "broker": self.broker,
            "leg": self.leg,
            "slice": self.slice_no,
            "side": self.side,
            "underlying": self.key.underlying.value,
            "expiry": self.key.expiry.isoformat(),
            "strike": str(self.key.strike),
            "option_type": self.key.option_type.value,
            "exchange": self.exchange,
            "lot_size": self.lot_size,
            "tick_size": str(self.tick_size),
            "quantity": self.quantity,
            "limit_price": str(self.limit_price),
            "product": self.product,
            "tag": self.tag,
            **({} if self.trigger is None else {"trigger": str(self.trigger)}),
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> ChildOrder:
        key = ContractKey(
            Underlying(doc["underlying"]),
            date.fromisoformat(doc["expiry"]),
            Decimal(doc["strike"]),
            OptionType(doc["option_type"]),
        )
        return cls(
            account_id=doc["account_id"],
            broker=doc["broker"],
            leg=int(doc["leg"]),
            slice_no=int(doc["slice"]),
            side=doc["side"],
            key=key,
            exchange=doc["exchange"],
            lot_size=int(doc["lot_size"]),
            tick_size=Decimal(doc["tick_size"]),
            quantity=int(doc["quantity"]),
            limit_price=Decimal(doc["limit_price"]),
            product=doc["product"],
            tag=doc["tag"],
            trigger=Decimal(doc["trigger"]) if doc.get("trigger") else None,
        )


class OrderBuilder:
    def __init__(self, market: MarketModel, quotes: QuoteSource) -> None:
        self.market = market
        self.quotes = quotes
        self._series: dict[tuple[Underlying, ExpiryChoice, datetime], Series] = {}

    def series(self, underlying: Underlying, choice: ExpiryChoice, at: datetime) -> Series:
        """The series at `at`, fetched once per builder (a builder lives for one tick)."""
        key = (underlying, choice, at)
        if key not in self._series:
            self._series[key] = self._fetch_series(underlying, choice, at)
        return self._series[key]

    def _fetch_series(self, underlying: Underlying, choice: ExpiryChoice, at: datetime) -> Series:
        at = at.astimezone(IST)
        self.market.require_choice(underlying, choice, at.date())
        expiry = self.market.resolve_expiry(underlying, choice, at.date())
        spec = self.market.contract_spec(underlying, expiry, at.date())
        close = default_calendar().fo_session_bounds(expiry)[1]
        expiry_time = datetime.combine(expiry, close, tzinfo=IST)
        spot = self.quotes.spot(underlying, at)
        strikes = self.market.strikes(underlying, expiry, spot=spot)
        chain = self.quotes.chain(underlying, strikes, at, expiry_time)
        return Series(underlying, expiry, spec, spot, chain, expiry_time, at)

    def resolve(
        self,
        series: Series,
        index: int,
        side: str,
        option_type: OptionType,
        method: StrikeMethod,
        value: Decimal,
    ) -> ResolvedLeg:
        try:
            strike = select_strike(
                method, value, option_type, series.spot, series.chain,
                expiry_time=series.expiry_time, now=series.at,
            )  # fmt: skip
            ltp = series.chain.premium(strike, option_type)
            limit = protected_limit_price(side, ltp, on=series.at.date())
        except MarketRuleError as error:
            return ResolvedLeg(
                index, side, option_type, None, None, None, market_error(error, f"legs[{index}]")
            )
        key = ContractKey(series.underlying, series.expiry, strike, option_type)
        return ResolvedLeg(index, side, option_type, key, ltp, limit, None)

    def entry_orders(
        self,
        strategy_id: str,
        payload: dict[str, Any],
        brokers: dict[str, str],
        at: datetime,
    ) -> tuple[list[ChildOrder], list[dict[str, Any]]]:
        """Every child order of an entry (all accounts, legs, slices), and what could not be built."""
        series = self.series(Underlying(payload["underlying"]), ExpiryChoice(payload["expiry"]), at)
        resolved: dict[int, ResolvedLeg] = {}
        orders: list[ChildOrder] = []
        errors: list[dict[str, Any]] = []
        for account_id, legs in payload["accounts"].items():
            broker = brokers.get(account_id)
            if broker is None:
                errors.append(
                    {"account_id": account_id, "code": "no_session", "message": "no usable session"}
                )
                continue
            for leg in legs:
                index = int(leg["leg"])
                if index not in resolved:
                    resolved[index] = self.resolve(
                        series, index, leg["side"], OptionType(leg["option_type"]),
                        StrikeMethod(leg["strike"]["method"]), Decimal(leg["strike"]["value"]),
                    )  # fmt: skip
                found = resolved[index]
                if found.key is None or found.limit_price is None:
                    errors.append({"account_id": account_id, "leg": index, **(found.error or {})})
                    continue
                try:
                    slices = order_slices(int(leg["lots"]), Decimal(leg["multiplier"]), series.spec)
                except MarketRuleError as error:
                    errors.append(
                        {"account_id": account_id, "leg": index, **market_error(error, "lots")}
                    )
                    continue
                for slice_no, quantity in enumerate(slices):
                    orders.append(
                        ChildOrder(
                            account_id=account_id,
                            broker=broker,
                            leg=index,
                            slice_no=slice_no,
                            side=leg["side"],
                            key=found.key,
                            exchange=series.spec.exchange.value,
                            lot_size=series.spec.lot_size,
                            tick_size=series.spec.tick_size,
                            quantity=quantity,
                            limit_price=found.limit_price,
                            product=payload["product"],
                            tag=order_tag(strategy_id, "ENTRY", index, slice_no),
                        )
                    )
        return orders, errors


def market_error(error: MarketRuleError, field: str) -> dict[str, Any]:
    return {
        "code": getattr(error, "code", None) or "market_rule",
        "message": str(error),
        "field": getattr(error, "field", None) or field,
        "data_missing": isinstance(error, MarketDataError),
    }
