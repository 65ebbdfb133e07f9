"""Canonical values to and from a dialect's fields: statuses, numbers, prices, products, refs.

Brokers send numbers as JSON numbers or as text, pad empty prices with 0 and invent statuses
between releases; these helpers read all of that one way (junk becomes None or 0, an unknown
status keeps the order polled) so no dialect has to.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from chalicelib.domain.instrument import Broker as DomainBroker
from chalicelib.domain.instrument import BrokerRef, Instrument
from chalicelib.domain.symbols import fyers_symbol, kite_symbol, noren_symbol
from chalicelib.ports.broker import OrderStatus, Product
from chalicelib.ports.broker_errors import InvalidOrder, Unavailable

log = logging.getLogger(__name__)


def map_status(table: Mapping[str, OrderStatus], raw: str, broker: str) -> OrderStatus:
    """Canonical status for a broker status; an unknown one is PENDING (keep polling) + a log."""
    key = raw.strip().upper()
    if key in table:
        return table[key]
    if key.endswith("PENDING") or key.endswith("RECEIVED"):
        return OrderStatus.PENDING
    log.warning("unknown broker order status", extra={"broker": broker, "status": raw})
    return OrderStatus.PENDING


def decimal_or_none(value: Any) -> Decimal | None:
    """A price from a JSON number or string (via ``str`` so floats stay exact); 0 -> None."""
    if value is None or value == "":
        return None
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        return None
    return result if result.is_finite() and result != 0 else None


def whole(value: Any) -> int:
    """An integer quantity from a JSON number or string ("75", 75.0); junk -> 0."""
    if value is None or value == "":
        return 0
    try:
        return int(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return 0


def rupees(value: Any, broker: str, what: str) -> Decimal:
    """A margin or funds figure from a reply (number or text); an unreadable one is
    ``Unavailable`` (the margin check then fails open with an alert, never guesses)."""
    try:
        result = Decimal(str(value).replace(",", ""))
    except (InvalidOperation, ValueError):
        result = Decimal("NaN")
    if value is None or isinstance(value, bool) or not result.is_finite():
        raise Unavailable(
            f"unreadable {what} in the margin reply: {value!r}",
            broker=broker, code="malformed_reply", retryable=False,
        )  # fmt: skip
    return result


def product_from(raw: Any, table: Mapping[str, Product]) -> Product | None:
    """Canonical product for a broker's product code (None for CNC, CO, BO...)."""
    return table.get(str(raw or "").upper())


def price_text(value: Decimal) -> str:
    """A price as brokers want it in text fields: plain notation, tick precision kept."""
    return format(value, "f")


def price_number(value: Decimal | None) -> float:
    """A price for JSON number fields (exact for 0.05-tick values via the shortest repr)."""
    return float(value) if value is not None else 0.0


def pick(fields: Mapping[str, Any], *names: str, **renamed: str) -> dict[str, Any]:
    """Some of one dialect request's fields (``new="old"`` renames one): a basket-margin row
    reuses the placement fields, so the two requests never map a contract or enum apart."""
    return {**{name: fields[name] for name in names}, **{n: fields[o] for n, o in renamed.items()}}


def broker_ref(instrument: Instrument, broker: DomainBroker, name: str) -> BrokerRef:
    """The instrument's symbol/token at ``broker``; computed for symbol-only dialects.

    Services pass instruments from the market model (refs filled from the master). Kite, Fyers
    and Noren orders carry only a symbol, which the market model can compute without a master;
    Angel, Upstox and Dhan need the master's token, so a missing ref is an ``InvalidOrder``.
    """
    if broker in instrument.refs:
        return instrument.refs[broker]
    if broker is DomainBroker.KITE:
        return BrokerRef(kite_symbol(instrument.key), "")
    if broker is DomainBroker.FYERS:
        return BrokerRef(fyers_symbol(instrument.key), "")
    if broker is DomainBroker.NOREN:
        return BrokerRef(noren_symbol(instrument.key), "")
    raise InvalidOrder(
        f"no {broker} token for {instrument.key}: load the {broker} master", broker=name
    )
