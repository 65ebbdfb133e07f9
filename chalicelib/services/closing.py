"""Closing orders: from what is actually held to the protected LIMIT orders that flatten it.

Exits, unwinds and the kill switch all close *holdings* (positions built from fills, or an
execution's fills), never a mirror of the strategy's legs: a leg that was rejected at entry has
nothing to close, and a partly filled leg closes only its filled lots. Shorts are bought back
before longs are sold, so the account's margin never spikes between the two.

Positions are keyed by a canonical, broker-independent symbol ``UNDERLYING-YYYY-MM-DD-STRIKE-TYPE``
(``canonical_symbol``): one strategy can hold the same contract on accounts of different brokers,
each with its own tradingsymbol, and the contract must be rebuilt from the key without a master.
The broker's own tradingsymbol is kept in the position's ``contract`` (``broker_symbol``).
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from chalicelib.domain.instrument import ContractKey, Instrument, normalise_strike
from chalicelib.domain.market_errors import MarketRuleError
from chalicelib.domain.market_model import MarketModel
from chalicelib.domain.protection import protected_limit_price
from chalicelib.domain.records import PositionRecord
from chalicelib.domain.sizing import slice_quantity
from chalicelib.domain.underlying import Exchange, OptionType, Underlying
from chalicelib.ports.broker import Broker
from chalicelib.services.order_builder import ChildOrder, order_tag

_ALPHABET = string.ascii_uppercase + string.digits


def canonical_symbol(key: ContractKey) -> str:
    """``NIFTY-2026-11-26-26000-CE``: the position key, the same at every broker."""
    strike = normalise_strike(key.strike)
    return f"{key.underlying.value}-{key.expiry.isoformat()}-{strike}-{key.option_type.value}"


def still_held(position: PositionRecord, day: date) -> bool:
    """Whether a stored position can still be open at the broker on ``day`` (pure).

    Positions are stored per (strategy, account, contract), not per day, so a kill switch or an
    exit reads every one the strategy ever had. An intraday (MIS) position last changed in an earlier session
    was squared off by the broker at that session's end, and an option past its expiry no longer
    exists: "closing" either would open a new, reversed position. Both are left alone.
    """
    contract = position.contract or {}
    expiry = contract.get("expiry")
    if expiry and date.fromisoformat(str(expiry)) < day:
        return False
    changed = (position.updated_at or position.created_at or "")[:10]
    return not (contract.get("product") == "MIS" and changed and changed < day.isoformat())


def unique_tag(strategy_id: str, phase: str, seq: int) -> str:
    """An ``order_tag`` with a 4-character random suffix (<= 20 alphanumerics in all).

    Unwinds, exits and square-offs can happen more than once a day for one strategy and account;
    the broker resolves an ambiguous placement by tag, so a tag must never repeat in a day.
    """
    base = order_tag(strategy_id, phase, seq % 256, seq // 256 % 100)
    return base + "".join(secrets.choice(_ALPHABET) for _ in range(4))


@dataclass(frozen=True)
class Holding:
    """A net quantity of one contract on one account (negative = short)."""

    account_id: str
    broker: str
    key: ContractKey
    exchange: str
    lot_size: int
    tick_size: Decimal
    product: str
    net_quantity: int

    def instrument(self, market: MarketModel) -> Instrument:
        try:
            return market.instrument(self.key)
        except MarketRuleError:
            return Instrument(self.key, Exchange(self.exchange), self.lot_size, self.tick_size)


def contract_doc(request: Mapping[str, Any], broker_symbol: str = "") -> dict[str, Any]:
    """The position's ``contract`` from an order request: enough to rebuild the instrument."""
    doc = {
        name: request[name]
        for name in (
            "underlying", "expiry", "strike", "option_type", "exchange", "lot_size", "tick_size",
            "product",
        )
    }  # fmt: skip
    doc["broker"] = request.get("broker", "")
    doc["broker_symbol"] = broker_symbol
    return doc


def contract_key(doc: Mapping[str, Any]) -> ContractKey:
    return ContractKey(
        Underlying(doc["underlying"]),
        date.fromisoformat(doc["expiry"]),
        Decimal(str(doc["strike"])),
        OptionType(doc["option_type"]),
    )


def holding_of_position(item: PositionRecord, broker: str | None = None) -> Holding:
    contract = item.contract
    return Holding(
        account_id=item.account_id,
        broker=broker or contract.get("broker", ""),
        key=contract_key(contract),
        exchange=contract["exchange"],
        lot_size=int(contract["lot_size"]),
        tick_size=Decimal(str(contract["tick_size"])),
        product=contract.get("product", "MIS"),
        net_quantity=int(item.net_quantity),
    )


class LtpSource(Protocol):
    """Last traded prices for closing orders; says where they come from."""

    name: str
    live: bool

    def ltp(
        self, adapter: Broker, instruments: Sequence[Instrument]
    ) -> Mapping[ContractKey, Decimal]:
        """Prices by contract; contracts without a price are left out."""
        ...


class BrokerLtp:
    """The account's own broker quotes: the price its exchange will match against."""

    name = "broker"
    live = True

    def ltp(
        self, adapter: Broker, instruments: Sequence[Instrument]
    ) -> Mapping[ContractKey, Decimal]:
        return adapter.quotes(instruments) if instruments else {}


def closing_orders(
    strategy_id: str,
    holdings: Iterable[Holding],
    prices: Mapping[tuple[str, ContractKey], Decimal],
    market: MarketModel,
    *,
    phase: str,
    on: date,
) -> tuple[list[ChildOrder], list[dict[str, Any]]]:
    """Orders that flatten ``holdings``: BUYs (closing shorts) first, then SELLs.

    ``prices`` maps (account, contract) to its LTP; a holding without one is reported in the
    errors rather than sent at a guessed price. Quantities are sliced at the freeze limit.
    """
    open_ = [h for h in holdings if h.net_quantity != 0]
    open_.sort(key=lambda h: (h.net_quantity > 0, h.account_id, h.key))
    orders: list[ChildOrder] = []
    errors: list[dict[str, Any]] = []
    for holding in open_:
        side = "BUY" if holding.net_quantity < 0 else "SELL"
        where = {"account_id": holding.account_id, "symbol": canonical_symbol(holding.key)}
        ltp = prices.get((holding.account_id, holding.key))
        if ltp is None:
            errors.append({**where, "code": "no_price", "message": "no last price to protect from"})
            continue
        try:
            limit = protected_limit_price(side, ltp, on=on, tick=holding.tick_size)
            slices = slice_quantity(
                abs(holding.net_quantity), holding.lot_size, _freeze(holding, market, on)
            )
        except MarketRuleError as error:
            errors.append({**where, "code": error.code or "market_rule", "message": str(error)})
            continue
        for slice_no, quantity in enumerate(slices):
            seq = len(orders)
            orders.append(
                ChildOrder(
                    account_id=holding.account_id,
                    broker=holding.broker,
                    leg=seq,
                    slice_no=slice_no,
                    side=side,
                    key=holding.key,
                    exchange=holding.exchange,
                    lot_size=holding.lot_size,
                    tick_size=holding.tick_size,
                    quantity=quantity,
                    limit_price=limit,
                    product=holding.product,
                    tag=unique_tag(strategy_id, phase, seq),
                )
            )
    return orders, errors


def _freeze(holding: Holding, market: MarketModel, on: date) -> int:
    try:
        return market.contract_spec(holding.key.underlying, holding.key.expiry, on).freeze_qty
    except MarketRuleError:
        return abs(holding.net_quantity)  # no rule known: one order, the broker slices or refuses
