"""The paper book's periodic look: every order that can still fill is matched against the
quotes of now, whether or not anything else polls it (a resting stop, a limit left working).

It runs with the recovery sweep (every few seconds locally, each minute of the session on AWS);
placement and every status poll match too, so this only bounds how stale a resting order can get.
Matching is conditional per order, so it may race the settlement poll or the risk monitor freely.
"""

from __future__ import annotations

import logging
from typing import Any

from chalicelib.container import Container
from chalicelib.errors import NotFound
from chalicelib.paper_wiring import open_paper_orders, orphan_paper_book
from chalicelib.ports.broker import Broker

log = logging.getLogger(__name__)


def sweep(container: Container) -> dict[str, Any]:
    """Look at every open paper order once; an account that cannot be reached is skipped."""
    if container.settings.paper_engine != "book":
        return {"looked": 0, "failed": 0}
    adapters: dict[tuple[str, str], Any] = {}
    looked = failed = 0
    for uid, account_id, order_id in open_paper_orders():
        try:
            if (uid, account_id) not in adapters:
                try:
                    adapters[(uid, account_id)] = container.broker_access.adapter(uid, account_id)
                except NotFound:  # the paper account was deleted: its open orders end here
                    orphan = orphan_paper_book(container, uid, account_id)
                    adapters[(uid, account_id)] = _Orphan(orphan)
            adapters[(uid, account_id)].status(order_id)
            looked += 1
        except Exception:  # one account's failure must not stop the others
            failed += 1
            log.warning(
                "paper order look failed",
                extra={"account": account_id, "order_id": order_id},
                exc_info=True,
            )
    return {"looked": looked, "failed": failed}


class _Orphan:
    """The open orders of a deleted paper account: cancelled on the sweep's look, so they leave
    the open-order index instead of being looked at (and failing) forever."""

    def __init__(self, book: Broker) -> None:
        self.book = book

    def status(self, order_id: str) -> Any:
        return self.book.cancel(order_id)
