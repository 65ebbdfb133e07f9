"""One facade over the market model: the loaded instrument master first, computed rules second.

When a broker's master is loaded, its expiries, strikes, lot sizes and tokens are the truth (the
exchange may list, shift or revise something our data files do not know yet). Without one, or for
an underlying the master does not list, the computed rules answer: expiry rules and holiday
calendar, strike grid, lot-size revisions. Freeze limits come from the master where it carries
them (Upstox does) and from the dated data otherwise.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import replace
from datetime import date
from decimal import Decimal

from chalicelib.domain.contracts import ContractRules, ContractSpec, default_contract_rules
from chalicelib.domain.expiry import (
    ExpiryChoice,
    ExpiryRules,
    default_expiry_rules,
    listed_expiries,
    require_choice,
    resolve_expiry,
)
from chalicelib.domain.instrument import (
    Broker,
    BrokerRef,
    ContractKey,
    Instrument,
    InstrumentMaster,
)
from chalicelib.domain.market_errors import MarketDataError, NoSuchExpiry, NoSuchStrike
from chalicelib.domain.symbols import fyers_symbol, kite_symbol, noren_symbol
from chalicelib.domain.underlying import Underlying

#: Dialects whose orders need only a symbol we can compute; the others need the master's token.
_COMPUTABLE = {Broker.KITE: kite_symbol, Broker.FYERS: fyers_symbol}


class MarketModel:
    """Expiries, strikes, specs and broker references, preferring ``master`` when it knows."""

    def __init__(
        self,
        master: InstrumentMaster | None = None,
        *,
        expiry_rules: ExpiryRules | None = None,
        contract_rules: ContractRules | None = None,
    ) -> None:
        self.master = master
        self.expiry_rules = expiry_rules or default_expiry_rules()
        self.contract_rules = contract_rules or default_contract_rules()

    def _lists(self, underlying: Underlying) -> bool:
        return self.master is not None and underlying in self.master.underlyings()

    def expiries(self, underlying: Underlying, on: date) -> list[date]:
        """Expiries open on ``on``: the master's list, else the computed listing."""
        if self._lists(underlying):
            return [d for d in self.master.expiries(underlying) if d >= on]
        return [e.date for e in listed_expiries(underlying, on, rules=self.expiry_rules)]

    def is_monthly(self, underlying: Underlying, expiry: date) -> bool:
        """Whether ``expiry`` is its month's last expiry (the monthly contract)."""
        if self._lists(underlying):
            return expiry in self.master.monthly_expiries(underlying)
        return self.expiry_rules.is_monthly(underlying, expiry)

    def require_choice(self, underlying: Underlying, choice: ExpiryChoice, on: date) -> None:
        """``NoSuchExpiry`` when ``underlying`` has no such label on ``on`` (a weekly label on an
        underlying without weeklies): a strategy's expiry is never silently another contract."""
        require_choice(underlying, choice, on, rules=self.expiry_rules)

    def resolve_expiry(self, underlying: Underlying, choice: ExpiryChoice, on: date) -> date:
        """``choice`` on ``on``, with the same semantics as ``expiry.resolve_expiry``."""
        if not self._lists(underlying):
            return resolve_expiry(underlying, choice, on, rules=self.expiry_rules)
        monthly = choice in (ExpiryChoice.CURRENT_MONTH, ExpiryChoice.NEXT_MONTH)
        if not monthly and self.expiry_rules.has_weeklies(underlying, on):
            pool = self.master.expiries(underlying)
        else:
            pool = self.master.monthly_expiries(underlying)
        index = bisect_left(pool, on) + (
            choice in (ExpiryChoice.NEXT_WEEK, ExpiryChoice.NEXT_MONTH)
        )
        if index >= len(pool):
            raise NoSuchExpiry(f"the master lists no {choice} expiry of {underlying} on {on}")
        return pool[index]

    def strikes(
        self, underlying: Underlying, expiry: date, *, spot: Decimal | None = None, width: int = 40
    ) -> tuple[Decimal, ...]:
        """Listed strikes of a series; without a master, the grid of ``width`` steps around spot."""
        if self._lists(underlying):
            listed = self.master.strikes(underlying, expiry)
            if not listed:
                raise NoSuchStrike(f"the master lists no {underlying} {expiry} series")
            return listed
        if spot is None or spot <= 0:
            raise MarketDataError("a spot price is needed to compute strikes", field="spot")
        step = self.contract_rules.grid(expiry).strike_step[underlying]
        centre = (spot / step).to_integral_value() * step
        return tuple(centre + i * step for i in range(-width, width + 1) if centre + i * step > 0)

    def contract_spec(self, underlying: Underlying, expiry: date, on: date) -> ContractSpec:
        """Computed spec, with the master's lot size, tick (and freeze, if given) for its series."""
        spec = self.contract_rules.spec(underlying, expiry, on)
        sample = self.master.series_sample(underlying, expiry) if self.master else None
        if sample is not None:
            spec = replace(
                spec,
                lot_size=sample.lot_size,
                tick_size=sample.tick_size,
                freeze_qty=sample.freeze_qty or spec.freeze_qty,
            )
        return spec

    def instrument(self, key: ContractKey) -> Instrument:
        """The master's contract (``NoSuchStrike`` if not listed, ``MarketDataError`` if no master)."""
        if self.master is None:
            raise MarketDataError("no instrument master loaded", field="master")
        return self.master.instrument(key.underlying, key.expiry, key.strike, key.option_type)

    def broker_ref(self, broker: Broker, key: ContractKey) -> BrokerRef:
        """Symbol and token to send ``broker``: the master's, else computed where a symbol suffices.

        Kite, Fyers and Noren orders carry only a symbol, so it can be computed (token empty);
        Angel, Upstox and Dhan need a token that only their master has.
        """
        if self.master is not None:
            found = self.master.get(key)
            if found is not None and broker in found.refs:
                return found.refs[broker]
        if broker in _COMPUTABLE:
            return BrokerRef(
                _COMPUTABLE[broker](key, monthly=self.is_monthly(key.underlying, key.expiry)), ""
            )
        if broker is Broker.NOREN:
            return BrokerRef(noren_symbol(key), "")
        raise MarketDataError(
            f"{broker} orders need a token: load the {broker} master", field="master"
        )
