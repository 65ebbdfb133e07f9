"""Composition of a paper account's broker on the platform's book (part of the container).

Which quotes price the book: the account's ``quote_account_id`` (one of the same user's live
accounts, through its own adapter), else the simulated exchange where this deployment has one
(``BROKER_HOSTS.paper``, through the paper session the simulator opened), else none: every
order is then recorded REJECTED with the reason, so nothing fills at a made-up price.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from chalicelib.adapters.brokers.paper_book import PaperBookBroker
from chalicelib.adapters.dynamo.paper_items import DynamoPaperBook
from chalicelib.domain.brokers import PAPER
from chalicelib.domain.instrument import ContractKey, Instrument
from chalicelib.domain.paper_matching import BookQuote
from chalicelib.errors import DomainError
from chalicelib.ports.broker import Session


def quotes_indices(adapter: Any) -> bool:
    """Whether ``adapter`` can be the user's live quote source (index levels and chains): a
    paper book only through a quote source that has them, so a user's Zerodha account is used
    rather than a paper account with no source (or an Upstox one, which quotes no indices)."""
    if not isinstance(adapter, PaperBookBroker):
        return True
    return adapter.feed is not None and hasattr(adapter.feed, "index_ltp")


def paper_books(container: Any, ttl: float = 1.0) -> Callable[[Any, Session], Any]:
    """``BrokerAccess.paper`` for ``container``: quote accounts' adapters are kept a minute (a
    book looks at its quote account on every poll; building one costs reads and KMS calls)."""
    from chalicelib.services.broker_access import CachedAccess

    cache: list[CachedAccess] = []
    feeds: dict[str, RecentQuotes] = {}

    def build(account: Any, session: Session) -> Any:
        if not cache:
            cache.append(CachedAccess(container.broker_access))
        book = paper_book_for(container, cache[0], account, session)
        if book.feed is not None and account.quote_account_id:
            recent = feeds.setdefault(account.quote_account_id, RecentQuotes(book.feed, ttl))
            recent.source = book.feed  # the newest adapter (session) of the quote account
            book.feed = recent
        return book

    return build


class RecentQuotes:
    """A live account's quotes, each kept for ``ttl`` seconds in this process.

    Brokers cap quote calls tightly (Kite: about one a second per user); a four-leg paper entry
    and the settlement polls that follow would otherwise ask for the same contracts many times a
    second. A price a second old is what the next look would have seen anyway.
    """

    def __init__(
        self, source: Any, ttl: float = 1.0, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.source = source
        self.ttl = ttl
        self.monotonic = monotonic
        self._depth: dict[Any, tuple[float, Any]] = {}
        self._lock = threading.Lock()
        self.name = getattr(source, "name", "quotes")

    def depth(self, instruments: Sequence[Instrument]) -> Mapping[ContractKey, BookQuote]:
        now = self.monotonic()
        with self._lock:
            fresh = {
                i.key: hit[1]
                for i in instruments
                if (hit := self._depth.get(i.key)) is not None and now - hit[0] < self.ttl
            }
        missing = [i for i in instruments if i.key not in fresh]
        if missing:
            got = _full_quotes(self.source, missing)
            with self._lock:
                for key, quote in got.items():
                    self._depth[key] = (now, quote)
            fresh.update(got)
        return fresh

    def quotes(self, instruments: Sequence[Instrument]) -> Mapping[ContractKey, Decimal]:
        return {k: q.ltp for k, q in self.depth(instruments).items()}

    def __getattr__(self, name: str) -> Any:  # index_ltp and the rest: straight through
        return getattr(self.source, name)


def _full_quotes(source: Any, instruments: Sequence[Instrument]) -> Mapping[ContractKey, Any]:
    if hasattr(source, "depth"):
        found: Mapping[ContractKey, BookQuote] = source.depth(instruments)
        return found
    return {k: BookQuote(ltp=v) for k, v in source.quotes(instruments).items() if v > 0}


def paper_book_for(
    container: Any, quote_access: Any, account: Any, session: Session
) -> PaperBookBroker:
    """The paper account's broker port (``BrokerAccess.paper``)."""
    feed: Any = None
    reason = (
        f"paper account {account.account_id} has no quote source: PATCH /accounts/"
        f"{account.account_id} with quote_account_id (one of your live broker accounts)"
    )
    hosts = container.settings.broker_hosts
    if account.quote_account_id:
        try:
            feed = quote_access.adapter(account.uid, account.quote_account_id)
        except DomainError as error:
            reason = f"the quote account of paper account {account.account_id}: {error}"
    elif PAPER.name in hosts:
        from chalicelib.adapters.brokers.registry import build_broker

        feed = build_broker(
            PAPER.name,
            container.broker_access.credentials(account),
            account=account.account_id,
            hosts=hosts[PAPER.name],
            now=container.clock,
        ).with_session(session)
    return PaperBookBroker(
        DynamoPaperBook(),
        account.uid,
        account.account_id,
        feed,
        now=container.clock,
        no_feed_reason=reason,
    )


def open_paper_orders() -> list[tuple[str, str, str]]:
    """Every paper order of every user that can still fill: (uid, account_id, order_id)."""
    return DynamoPaperBook().open_orders()


def orphan_paper_book(container: Any, uid: str, account_id: str) -> PaperBookBroker:
    """The book of a deleted paper account: no quote source, so its open orders can only be
    cancelled (the paper sweep does, so they leave the open-order index)."""
    return PaperBookBroker(DynamoPaperBook(), uid, account_id, None, now=container.clock)
