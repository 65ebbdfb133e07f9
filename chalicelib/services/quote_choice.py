"""Which quotes a user's prices come from: the choice the planner, the preview and the P&L make.

Entries pick strikes on live quotes from the trader's own Kite-dialect account (Zerodha, or a
paper account that forwards its quote source's prices), never on synthetic ones (architecture.md,
"Quotes come from the trader's own broker"). P&L is marked where a paper account fills: the
simulated exchange through the user's first paper account with a session, else the platform's
default source.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.brokers import KITE_DIALECT, PAPER
from chalicelib.domain.market_model import MarketModel
from chalicelib.domain.records import AccountRecord, SessionRecord
from chalicelib.errors import DomainError
from chalicelib.ports.accounts import AccountReader
from chalicelib.services.broker_quotes import KiteQuotes
from chalicelib.services.quotes import QuoteSource

Usable = Sequence[tuple[AccountRecord, SessionRecord]]


def _any_adapter(adapter: Any) -> bool:
    return True


@dataclass
class QuoteChoice:
    accounts: AccountReader
    #: ``BrokerAccess.adapter_for``: an account's adapter from the records already read.
    adapter_for: Callable[[AccountRecord, SessionRecord | None], Any]
    #: The market model, asked for only when live quotes are built (the container's warms its
    #: instrument masters on first use).
    market: Callable[[], MarketModel]
    #: The quotes of last resort (``quotes_of``): labelled synthetic ones by default.
    fallback: QuoteSource
    #: Whether an adapter can quote index levels and chains (a paper book only through a quote
    #: source that can: ``paper_wiring.quotes_indices``).
    quotes_indices: Callable[[Any], bool] = _any_adapter

    def first_live(self, usable: Usable) -> QuoteSource | None:
        """Live quotes through the user's first Kite-dialect account (Zerodha or paper)."""
        for account, session in usable:
            if account.broker in KITE_DIALECT:
                adapter = self.adapter_for(account, session)
                if self.quotes_indices(adapter):  # not a paper book without a Kite source
                    return KiteQuotes(adapter, self.market(), name=account.broker)
        return None

    def live_quotes(self, uid: str, account_ids: Sequence[str]) -> QuoteSource | None:
        """The quotes the planner would pick strikes on for these accounts of the user."""
        sessions = self.accounts.sessions_of(uid)
        usable = [
            (a, sessions[a.account_id])
            for a in self.accounts.list_accounts(uid)
            if a.account_id in account_ids and a.account_id in sessions
        ]
        return self.first_live(usable)

    def quotes_of(self, uid: str) -> QuoteSource:
        """The prices a user's P&L is marked at: the simulated exchange's through their first
        paper account with a session (the prices it fills at), else ``fallback``."""
        sessions = self.accounts.sessions_of(uid)
        usable = [
            (a, sessions[a.account_id])
            for a in self.accounts.list_accounts(uid)
            if a.broker == PAPER.name and a.account_id in sessions
        ]
        for pair in usable:
            try:
                found = self.first_live([pair])
            except DomainError:
                continue  # expired session: try the next account
            if found is not None:
                return found
        return self.fallback
