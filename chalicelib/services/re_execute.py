"""RE_EXECUTE: a re-entry that runs the leg's strike rule again at the moment it re-enters.

RE_ASAP and RE_COST trade the contract the leg left; RE_EXECUTE resolves the strike afresh from the
index and the chain now (the same ``OrderBuilder.resolve`` the planner and preview use), so an
ATM leg stopped out after a 200-point move re-enters at the new ATM. The resolved contract is
written into the guard (``reentry_contract``) in the same claim as the re-entry orders, so the
next cycle's guard, an exit that lands meanwhile and a restarted monitor all see the contract that
was actually sent.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from chalicelib.domain.market_errors import MarketRuleError
from chalicelib.ports.broker_errors import BrokerError
from chalicelib.services.closing import canonical_symbol
from chalicelib.services.guards import Guard
from chalicelib.services.index_quotes import index_quotes
from chalicelib.services.order_builder import OrderBuilder

if TYPE_CHECKING:
    from chalicelib.services.risk_step import BookStep


def re_executed(
    step: BookStep, guard: Guard, *, code: str = "re_entry_failed", rule: str = "RE_EXECUTE"
) -> tuple[Guard, Decimal] | None:
    """The guard as it re-enters on the freshly resolved contract, and that contract's price;
    None (with an alert ``code``, retried next cycle) when the strike cannot be resolved now.
    A waiting leg (wait and trade) resolves its strike here at the entry time as well."""
    engine, strategy = step.engine, step.strategy
    leg = strategy.legs[guard.leg]
    market = engine.settlement.closer.market
    uid = step.book.uid
    quotes = index_quotes(lambda a: engine.adapter(uid, a), strategy, market)
    problem = "no account quotes the index"
    if quotes is not None:
        try:
            builder = OrderBuilder(market, quotes)
            series = builder.series(strategy.underlying, strategy.expiry, step.now)
            found = builder.resolve(series, guard.leg, leg.side.value, leg.option_type,
                                    leg.strike.method, leg.strike.value)  # fmt: skip
        except (BrokerError, MarketRuleError) as error:
            problem = str(error)
        else:
            if found.key is not None and found.ltp is not None:
                return _on(guard, found.key, series.spec, found.ltp)
            problem = str((found.error or {}).get("message", "the strike did not resolve"))
    step.alert(code, guard, message=f"{rule} cannot resolve the strike: {problem}")
    return None


def _on(guard: Guard, key: Any, spec: Any, ltp: Decimal) -> tuple[Guard, Decimal]:
    contract = {
        **guard.doc["contract"],
        "underlying": key.underlying.value,
        "expiry": key.expiry.isoformat(),
        "strike": str(key.strike),
        "option_type": key.option_type.value,
        "exchange": spec.exchange.value,
        "lot_size": spec.lot_size,
        "tick_size": str(spec.tick_size),
        "broker_symbol": "",
    }
    return Guard({**guard.doc, "contract": contract, "symbol": canonical_symbol(key)}), ltp


def reentry_contract(guard: Guard) -> dict[str, Any]:
    """The contract the guard's re-entry orders trade (a RE_EXECUTE one, else the leg's own)."""
    return dict(guard.doc.get("reentry_contract") or guard.doc["contract"])


def reentry_symbol(guard: Guard) -> str:
    return str(guard.doc.get("reentry_symbol") or guard.symbol)
