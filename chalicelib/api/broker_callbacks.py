"""Broker OAuth redirects: public (the browser arrives from the broker), authorised by the
single-use state the login URL carried."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from chalice import Blueprint, Response

from chalicelib.api import responses as R
from chalicelib.api.routing import Request, route
from chalicelib.api.views import account_view
from chalicelib.errors import DomainError
from chalicelib.services.broker_sessions import session_view

bp = Blueprint(__name__)


@route(bp, "/brokers/{broker}/callback", "GET", auth=False, query=("state",), response=R.LOGGED_IN)
def callback(req: Request, broker: str) -> dict[str, Any] | Response:
    """Complete a broker login from its redirect and store the session (sealed).

    A browser (Accept: text/html) is sent back to the web app's Accounts page with the result
    when the app's URL is configured; scripts keep getting JSON."""
    web = req.container.settings.web_app_url
    browser = bool(web) and "text/html" in _header(req.headers, "accept")
    try:
        account, session = req.container.broker_sessions.complete_callback(broker, req.query)
    except DomainError as error:
        if not browser:
            raise
        return _back_to_app(web, {"login": "failed", "reason": str(error)})
    if browser:
        return _back_to_app(web, {"login": "ok", "account": account.account_id})
    return {
        "logged_in": True,
        "account": account_view(account, session_view(session, req.container.clock())),
    }


def _header(headers: dict[str, str], name: str) -> str:
    return next((v for k, v in headers.items() if k.lower() == name), "")


def _back_to_app(web: str, result: dict[str, str]) -> Response:
    return Response(
        body="", status_code=302, headers={"Location": f"{web}/#/accounts?{urlencode(result)}"}
    )
