"""Broker OAuth redirects: public (the browser arrives from the broker), authorised by the
single-use state the login URL carried."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api import responses as R
from chalicelib.api.routing import Request, route
from chalicelib.api.views import account_view
from chalicelib.services.broker_sessions import session_view

bp = Blueprint(__name__)


@route(bp, "/brokers/{broker}/callback", "GET", auth=False, query=("state",), response=R.LOGGED_IN)
def callback(req: Request, broker: str) -> dict[str, Any]:
    """Complete a broker login from its redirect and store the session (sealed)."""
    account, session = req.container.broker_sessions.complete_callback(broker, req.query)
    return {
        "logged_in": True,
        "account": account_view(account, session_view(session, req.container.clock())),
    }
