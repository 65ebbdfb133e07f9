"""Composition of a paper account's broker on the platform's book (part of the container).

Which quotes price the book: the account's ``quote_account_id`` (one of the same user's live
accounts, through its own adapter), else the simulated exchange where this deployment has one
(``BROKER_HOSTS.paper``, through the paper session the simulator opened), else none: every
order is then recorded REJECTED with the reason, so nothing fills at a made-up price.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.adapters.brokers.paper_book import PaperBookBroker
from chalicelib.adapters.brokers.port import Session
from chalicelib.adapters.dynamo.paper_items import DynamoPaperBook
from chalicelib.errors import DomainError


def paper_books(container: Any) -> Callable[[Any, Session], Any]:
    """``BrokerAccess.paper`` for ``container``: quote accounts' adapters are kept a minute (a
    book looks at its quote account on every poll; building one costs reads and KMS calls)."""
    from chalicelib.services.broker_access import CachedAccess

    cache: list[CachedAccess] = []

    def build(account: Any, session: Session) -> Any:
        if not cache:
            cache.append(CachedAccess(container.broker_access))
        return paper_book_for(container, cache[0], account, session)

    return build


def paper_book_for(container: Any, quote_access: Any, account: Any, session: Session) -> Any:
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
    elif "paper" in hosts:
        from chalicelib.adapters.brokers.registry import build_broker

        feed = build_broker(
            "paper",
            container.broker_access.credentials(account),
            account=account.account_id,
            hosts=hosts["paper"],
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
