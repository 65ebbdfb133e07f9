"""The broker catalogue: every broker an account can trade through, once, with the facts that code
elsewhere needs about it.

Every list of brokers in ``chalicelib/`` is derived from ``CATALOGUE``: the API's accepted names,
the adapter wired for an account, the login redirect's code parameter, the symbol dialect of the
preview, which accounts quote index levels, the instrument masters refreshed by default, and which
fake serves a broker locally. Adding a broker is one entry here, its dialect adapter under
``chalicelib/adapters/brokers/`` and its fake under ``sim/brokers/``.

What a broker's API can do for risk rules stays dated data (``data/broker_support.json``), and so
do its session lifetimes (``adapters/brokers/session_expiry.json``): they change on known dates.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.instrument import Broker as Symbols


@dataclass(frozen=True)
class BrokerEntry:
    name: str  # the account's ``broker`` in the API
    dialect: str  # the wire dialect: its adapter module and its fake (sim/brokers/<dialect>.py)
    adapter: str  # "<module>:<class>" under chalicelib.adapters.brokers
    symbols: Symbols  # how its trading symbols and tokens are spelled
    code_param: str  # the query parameter carrying the one-time code on its login redirect
    token_master: bool = False  # orders need instrument tokens from its daily master
    quotes_index: bool = False  # its quote API gives index levels (live strike picking)
    live: bool = True  # a real broker (paper: the platform's own book)


ZERODHA = BrokerEntry("zerodha", "kite", "kite:KiteBroker", Symbols.KITE, "request_token",
                      quotes_index=True)  # fmt: skip
ANGELONE = BrokerEntry("angelone", "angel", "angel:AngelBroker", Symbols.ANGEL, "auth_token",
                       token_master=True)  # fmt: skip
UPSTOX = BrokerEntry("upstox", "upstox", "upstox:UpstoxBroker", Symbols.UPSTOX, "code",
                     token_master=True)  # fmt: skip
FYERS = BrokerEntry("fyers", "fyers", "fyers:FyersBroker", Symbols.FYERS, "auth_code")
DHAN = BrokerEntry("dhan", "dhan", "dhan:DhanBroker", Symbols.DHAN, "tokenId", token_master=True)
SHOONYA = BrokerEntry("shoonya", "noren", "noren:ShoonyaBroker", Symbols.NOREN, "code",
                      token_master=True)  # fmt: skip
# Zebu speaks Noren too and its tokens are the exchange's, the same as in Shoonya's master.
ZEBU = BrokerEntry("zebu", "noren", "noren:ZebuBroker", Symbols.NOREN, "code")
# Paper trades Kite-style symbols; locally the simulator's Kite-dialect fake prices it.
PAPER = BrokerEntry("paper", "kite", "paper:PaperBroker", Symbols.KITE, "request_token",
                    quotes_index=True, live=False)  # fmt: skip

CATALOGUE: tuple[BrokerEntry, ...] = (ZERODHA, ANGELONE, UPSTOX, FYERS, DHAN, SHOONYA, ZEBU, PAPER)
BY_NAME = {entry.name: entry for entry in CATALOGUE}
BROKER_NAMES: tuple[str, ...] = tuple(BY_NAME)
#: Accounts whose quotes give index levels (underlying exits, RE_EXECUTE, wait and trade).
INDEX_QUOTE_BROKERS = frozenset(e.name for e in CATALOGUE if e.quotes_index)
#: Accounts spoken to in the Kite dialect (their quote API backs ``KiteQuotes``).
KITE_DIALECT = frozenset(e.name for e in CATALOGUE if e.dialect == "kite")
#: The instrument masters refreshed by default: one per token dialect.
TOKEN_MASTERS: tuple[str, ...] = tuple(e.name for e in CATALOGUE if e.token_master)


class UnknownBroker(ValueError):
    """A broker name the platform has no entry for."""


def broker_entry(name: str) -> BrokerEntry:
    try:
        return BY_NAME[name]
    except KeyError:
        raise UnknownBroker(f"unknown broker {name!r}; known: {', '.join(BY_NAME)}") from None
