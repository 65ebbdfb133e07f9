"""Errors raised by the market model.

Hierarchy (each carries a stable ``code`` and, where it concerns one input, a ``field``)::

    MarketRuleError              base: the request breaks a market rule or the model lacks data
    ├── InvalidRuleValue         a strike rule / parameter outside its documented range
    ├── MarketDataError          quotes, chain, calendar or reference data missing or unusable
    │   ├── CalendarCoverageError  a date outside the years the holiday data covers
    │   └── ReferenceDataError     a packaged data file is malformed
    ├── NoSuchStrike             the wanted strike is not listed
    ├── NoSuchExpiry             no listed expiry satisfies the request
    ├── SizingError              quantity cannot be expressed in whole lots within limits
    └── SymbolError              a broker symbol cannot be built or parsed

The API layer maps the tree to HTTP in one place; nothing here knows about HTTP.
"""

from __future__ import annotations


class MarketRuleError(Exception):
    """Base of every market-model error; ``code`` is stable and machine readable."""

    code: str = "market_rule"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, field={self.field!r}, {self.message!r})"


class InvalidRuleValue(MarketRuleError):
    """A user-supplied rule value is outside the range the model accepts."""

    code = "invalid_rule_value"


class MarketDataError(MarketRuleError):
    """Data needed for a decision is missing, stale or inconsistent."""

    code = "market_data"


class CalendarCoverageError(MarketDataError):
    """The holiday data does not cover the asked date, so a trading-day answer would be a guess."""

    code = "calendar_not_covered"


class ReferenceDataError(MarketDataError):
    """A packaged reference-data file failed validation on load."""

    code = "reference_data_invalid"


class NoSuchStrike(MarketRuleError):
    """The strike asked for (or every candidate) is not in the listed chain."""

    code = "no_such_strike"


class NoSuchExpiry(MarketRuleError):
    """No listed expiry satisfies the request."""

    code = "no_such_expiry"


class SizingError(MarketRuleError):
    """Quantity cannot be expressed as whole lots within the freeze limit."""

    code = "sizing"


class SymbolError(MarketRuleError):
    """A broker symbol cannot be built from, or parsed back to, a contract."""

    code = "symbol"
