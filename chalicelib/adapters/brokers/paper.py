"""Paper trading: the Kite dialect against the simulated exchange's fake Kite server.

Paper mode must run the same code path as live trading, so it is not a separate in-process
engine: ``sim/`` (the simulated exchange) is not packaged into the Lambdas and must never be
imported from ``chalicelib``. Instead the paper adapter IS the Kite adapter, pointed at the sim's
Kite-dialect server over HTTP (``python -m sim.servers``, loopback for ``make run``; any host the
deployment can reach on AWS). Orders, fills, partial fills, rejections and 429s then exercise
the real mapping, retry and recovery code. The differences: the name (so sessions and limiter
keys stay separate from a real Zerodha account), no default host (the sim's URL must be
configured), and no broker app or daily login: ``open_account`` asks the simulator for an
exchange account and a long-lived session when the paper account is created.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from chalicelib.adapters.brokers.errors import BrokerError
from chalicelib.adapters.brokers.kite import KiteBroker
from chalicelib.adapters.brokers.port import Session
from chalicelib.domain.calendar import IST

#: The API key of sessions the simulator opens for paper accounts (no broker app behind them).
PAPER_API_KEY = "paper"


class PaperBroker(KiteBroker):
    name = "paper"
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
