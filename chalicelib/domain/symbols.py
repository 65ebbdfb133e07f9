"""Broker symbols for index options, in every dialect of /work/shared/reference/brokers.md.

* Kite tradingsymbol: monthly ``NIFTY26DEC24000CE`` (YY MMM strike type); weekly
  ``NIFTY26N2423950CE`` (YY, month code 1-9/O/N/D, DD). The LAST expiry of a month (the monthly
  contract) always uses the monthly form, even where a weekly would otherwise be.
* Fyers: the exchange-prefixed Kite form, ``NSE:NIFTY26N2423950CE`` / ``BSE:SENSEX...``.
* Angel SmartAPI tradingsymbol: ``NIFTY04APR2423000CE`` (DD MMM YY strike type); orders also
  need the symbol token, which only the scrip master knows.
* Noren (Shoonya, Zebu) tsym: ``NIFTY24NOV26C23950`` (DD MMM YY, C/P, strike).
* Upstox instrument key ``NSE_FO|<token>`` / ``BSE_FO|<token>`` and Dhan security id: tokens from
  the broker's master only (see ``Instrument.refs``).

Builders take a ``ContractKey``; parsers return one. Month names are spelled out here (not with
``strftime``) so that the locale can never change a symbol.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal

from chalicelib.domain.expiry import default_expiry_rules
from chalicelib.domain.instrument import ContractKey, normalise_strike
from chalicelib.domain.market_errors import SymbolError
from chalicelib.domain.underlying import (
    UNDERLYINGS_LONGEST_FIRST,
    Exchange,
    OptionType,
    Underlying,
)

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
WEEKLY_MONTH_CODES = "123456789OND"
_NAMES = "|".join(u.value for u in UNDERLYINGS_LONGEST_FIRST)
_STRIKE = r"(?P<strike>\d+(?:\.\d+)?)"
_KITE = re.compile(
    rf"^(?P<u>{_NAMES})(?P<yy>\d{{2}})(?:(?P<mon>[A-Z]{{3}})|(?P<mc>[1-9OND])(?P<dd>\d{{2}}))"
    rf"{_STRIKE}(?P<t>CE|PE)$"
)
_ANGEL = re.compile(
    rf"^(?P<u>{_NAMES})(?P<dd>\d{{2}})(?P<mon>[A-Z]{{3}})(?P<yy>\d{{2}}){_STRIKE}(?P<t>CE|PE)$"
)
_NOREN = re.compile(
    rf"^(?P<u>{_NAMES})(?P<dd>\d{{2}})(?P<mon>[A-Z]{{3}})(?P<yy>\d{{2}})(?P<t>[CP]){_STRIKE}$"
)
_SEGMENTS = {Exchange.NFO: "NSE_FO", Exchange.BFO: "BSE_FO"}
_FYERS_PREFIX = {Exchange.NFO: "NSE", Exchange.BFO: "BSE"}

MonthlyExpiry = Callable[[Underlying, int, int], date]


def format_strike(strike: Decimal) -> str:
    """Strike as brokers print it: no decimals for whole strikes, else the shortest form."""
    return format(normalise_strike(strike), "f")


def _ddmmmyy(d: date) -> str:
    return f"{d.day:02d}{MONTHS[d.month - 1]}{d.year % 100:02d}"


def _default_is_monthly(key: ContractKey) -> bool:
    return default_expiry_rules().is_monthly(key.underlying, key.expiry)


def kite_symbol(key: ContractKey, *, monthly: bool | None = None) -> str:
    """Kite tradingsymbol; ``monthly`` defaults to the expiry rules (or pass the master's view)."""
    is_monthly = _default_is_monthly(key) if monthly is None else monthly
    yy = f"{key.expiry.year % 100:02d}"
    if is_monthly:
        middle = f"{yy}{MONTHS[key.expiry.month - 1]}"
    else:
        middle = f"{yy}{WEEKLY_MONTH_CODES[key.expiry.month - 1]}{key.expiry.day:02d}"
    return f"{key.underlying}{middle}{format_strike(key.strike)}{key.option_type}"


def parse_kite_symbol(symbol: str, *, monthly_expiry: MonthlyExpiry | None = None) -> ContractKey:
    """Kite tradingsymbol -> contract; a monthly symbol's day comes from ``monthly_expiry``."""
    match = _KITE.match(symbol.strip().upper())
    if match is None:
        raise SymbolError(f"not a Kite index-option symbol: {symbol!r}", field="symbol")
    underlying, year = Underlying(match["u"]), 2000 + int(match["yy"])
    try:
        if match["mon"]:
            month = _month(match["mon"], symbol)
            resolver = monthly_expiry or default_expiry_rules().monthly_expiry
            expiry = resolver(underlying, year, month)
        else:
            expiry = date(year, WEEKLY_MONTH_CODES.index(match["mc"]) + 1, int(match["dd"]))
    except ValueError as exc:
        raise SymbolError(f"bad expiry in {symbol!r}: {exc}", field="symbol") from exc
    return ContractKey(underlying, expiry, _strike(match["strike"]), OptionType(match["t"]))


def fyers_symbol(key: ContractKey, *, monthly: bool | None = None) -> str:
    """Fyers symbol: exchange prefix + the Kite-style tradingsymbol."""
    return f"{_FYERS_PREFIX[key.underlying.exchange]}:{kite_symbol(key, monthly=monthly)}"


def parse_fyers_symbol(symbol: str, *, monthly_expiry: MonthlyExpiry | None = None) -> ContractKey:
    """Fyers symbol -> contract; the prefix must match the underlying's exchange."""
    prefix, _, rest = symbol.strip().upper().partition(":")
    key = parse_kite_symbol(rest, monthly_expiry=monthly_expiry)
    if prefix != _FYERS_PREFIX[key.underlying.exchange]:
        raise SymbolError(
            f"{symbol!r}: {key.underlying} does not trade on {prefix}", field="symbol"
        )
    return key


def angel_symbol(key: ContractKey) -> str:
    """Angel SmartAPI tradingsymbol (the order also needs the token from the scrip master)."""
    strike = format_strike(key.strike)
    return f"{key.underlying}{_ddmmmyy(key.expiry)}{strike}{key.option_type}"


def parse_angel_symbol(symbol: str) -> ContractKey:
    """Angel tradingsymbol -> contract."""
    match = _ANGEL.match(symbol.strip().upper())
    if match is None:
        raise SymbolError(f"not an Angel index-option symbol: {symbol!r}", field="symbol")
    return _dated_key(match, symbol, OptionType(match["t"]))


def noren_symbol(key: ContractKey) -> str:
    """Noren (Shoonya/Zebu) tsym."""
    return f"{key.underlying}{_ddmmmyy(key.expiry)}{key.option_type.value[0]}{format_strike(key.strike)}"


def parse_noren_symbol(symbol: str) -> ContractKey:
    """Noren tsym -> contract."""
    match = _NOREN.match(symbol.strip().upper())
    if match is None:
        raise SymbolError(f"not a Noren index-option tsym: {symbol!r}", field="symbol")
    return _dated_key(match, symbol, OptionType.CE if match["t"] == "C" else OptionType.PE)


def upstox_instrument_key(exchange: Exchange, token: str) -> str:
    """Upstox instrument key from the exchange token in the Upstox master."""
    if not token.isdigit():
        raise SymbolError(f"Upstox token must be numeric, got {token!r}", field="token")
    return f"{_SEGMENTS[exchange]}|{token}"


def parse_upstox_instrument_key(instrument_key: str) -> tuple[Exchange, str]:
    """``NSE_FO|45450`` -> (NFO, "45450")."""
    segment, _, token = instrument_key.partition("|")
    for exchange, name in _SEGMENTS.items():
        if segment == name and token.isdigit():
            return exchange, token
    raise SymbolError(f"not an Upstox F&O instrument key: {instrument_key!r}", field="symbol")


def dhan_exchange_segment(exchange: Exchange) -> str:
    """Dhan ``exchangeSegment`` for orders (the security id comes from the Dhan master)."""
    return {Exchange.NFO: "NSE_FNO", Exchange.BFO: "BSE_FNO"}[exchange]


def _month(name: str, symbol: str) -> int:
    try:
        return MONTHS.index(name) + 1
    except ValueError:
        raise SymbolError(f"bad month {name!r} in {symbol!r}", field="symbol") from None


def _strike(text: str) -> Decimal:
    return normalise_strike(Decimal(text))


def _dated_key(match: re.Match[str], symbol: str, option_type: OptionType) -> ContractKey:
    try:
        expiry = date(2000 + int(match["yy"]), _month(match["mon"], symbol), int(match["dd"]))
    except ValueError as exc:
        raise SymbolError(f"bad expiry in {symbol!r}: {exc}", field="symbol") from exc
    return ContractKey(Underlying(match["u"]), expiry, _strike(match["strike"]), option_type)
