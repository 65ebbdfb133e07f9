"""Paper on the simulator: the Kite dialect against the simulated exchange's fake Kite server.

Two roles. By default (``PAPER_ENGINE=book``) paper orders fill in the platform's own book
(``paper_book.py``, docs/paper.md) and this adapter is only the quote feed of a paper account
that has no live quote account, where the deployment has a simulator (``make run``, tests): its
``depth`` / ``quotes`` / ``index_ltp`` price the book. With ``PAPER_ENGINE=sim`` (the older path)
the paper account IS this adapter and the simulator matches its orders itself.

``sim/`` is not packaged into the Lambdas and is never imported from ``chalicelib``: the
simulator is reached over HTTP (``python -m sim.servers``). The differences from Kite: the name
(so sessions and limiter keys stay separate from a real Zerodha account), no default host (the
sim's URL must be configured), and no broker app or daily login: ``open_account`` asks the
simulator for an exchange account and a long-lived session when the paper account is created.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from chalicelib.adapters.brokers.kite import KiteBroker
from chalicelib.domain.brokers import PAPER
from chalicelib.domain.calendar import IST
from chalicelib.ports.broker import Session
from chalicelib.ports.broker_errors import BrokerError

#: The API key of sessions the simulator opens for paper accounts (no broker app behind them).
PAPER_API_KEY = "paper"


class PaperBroker(KiteBroker):
    name = PAPER.name
    default_hosts: Mapping[str, str] = {}

    def open_account(self, exchange_client: str) -> Session:
        """An account at the simulated exchange and its session (idempotent, no login)."""
        body = self._call(
            "POST",
            "login",
            "/_sim/paper/accounts",
            idempotent=True,  # the simulator returns the same session for the same client
            json={"client_id": exchange_client},
        )
        try:
            return Session(
                broker=self.name,
                access_token=str(body["access_token"]),
                expires_at=datetime.fromisoformat(body["expires_at"]).astimezone(IST),
                user_id=str(body.get("user_id", exchange_client)),
                extra={"api_key": str(body.get("api_key", PAPER_API_KEY))},
            )
        except (KeyError, TypeError, ValueError) as error:
            raise BrokerError(f"the paper exchange answered {body!r}") from error

    def _headers(self) -> dict[str, str]:
        session = self.session
        api_key = self.config.credentials.api_key or session.extra.get("api_key", PAPER_API_KEY)
        return {"X-Kite-Version": "3", "Authorization": f"token {api_key}:{session.access_token}"}
