"""Broker accounts of the caller. Secrets go in, never out."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.api import responses as R
from chalicelib.api.routing import Request, json_response, route
from chalicelib.api.schemas import AccountIn, AccountPatch, SessionCodeIn
from chalicelib.api.views import account_view
from chalicelib.services.broker_sessions import session_view

bp = Blueprint(__name__)


@route(bp, "/accounts", "POST", body=AccountIn, status=201, response=R.ACCOUNT)
def create_account(req: Request) -> dict[str, Any]:
    """Connect a broker account; api_key and api_secret are sealed with KMS and never returned.

    A paper account needs neither and can trade at once: its orders fill in the platform's paper
    book, priced from ``quote_account_id`` (one of the caller's live accounts) or the simulator."""
    body: AccountIn = req.body
    item = req.container.accounts.create(
        req.uid,
        broker=body.broker,
        client_id=body.client_id,
        label=body.label,
        secrets=body.secrets(),
        static_ip_note=body.static_ip_note,
        quote_account_id=body.quote_account_id,
    )
    session = req.container.accounts.session(req.uid, item.account_id)  # paper: open at once
    return account_view(item, session_view(session, req.container.clock()))


@route(bp, "/accounts", "GET", response=R.items_of(R.ACCOUNT))
def list_accounts(req: Request) -> dict[str, Any]:
    """The caller's broker accounts with their session status."""
    sessions = req.container.accounts.sessions(req.uid)
    now = req.container.clock()
    return {
        "items": [
            account_view(a, session_view(sessions.get(a.account_id), now))
            for a in req.container.accounts.list(req.uid)
        ]
    }


@route(bp, "/accounts/readiness", "GET", response=R.items_of(R.READINESS))
def readiness(req: Request) -> dict[str, Any]:
    """Which accounts can trade today, and until when (sessions end before the next trading day)."""
    return {"items": req.container.broker_sessions.readiness(req.uid)}


@route(bp, "/accounts/{account_id}", "GET", response=R.ACCOUNT)
def get_account(req: Request, account_id: str) -> dict[str, Any]:
    """One broker account."""
    item = req.container.accounts.get(req.uid, account_id)
    session = req.container.accounts.session(req.uid, account_id)
    return account_view(item, session_view(session, req.container.clock()))


@route(bp, "/accounts/{account_id}/login", "GET", response=R.LOGIN_URL)
def login_url(req: Request, account_id: str) -> dict[str, Any]:
    """The broker's login page for today's session, with a single-use state (10 minutes)."""
    return {"url": req.container.broker_sessions.login_url(req.uid, account_id)}


@route(bp, "/accounts/{account_id}/session", "POST", body=SessionCodeIn, response=R.ACCOUNT)
def complete_with_code(req: Request, account_id: str) -> dict[str, Any]:
    """Finish a login with a code the trader enters (Angel's TOTP, a pasted request token)."""
    body: SessionCodeIn = req.body
    account, session = req.container.broker_sessions.complete_with_code(
        req.uid, account_id, body.code
    )
    return account_view(account, session_view(session, req.container.clock()))


@route(bp, "/accounts/{account_id}", "PATCH", body=AccountPatch, response=R.ACCOUNT)
def update_account(req: Request, account_id: str) -> dict[str, Any]:
    """Relabel an account, rotate its API credentials or set its day limits (rupees; null
    clears one): crossing either squares the account off and refuses its entries for the day."""
    body: AccountPatch = req.body
    item = req.container.accounts.update(
        req.uid,
        account_id,
        label=body.label,
        static_ip_note=body.static_ip_note,
        secrets=body.secrets(),
        version=body.version,
        quote_account_id=body.quote_account_id,
        day_limits=body.day_limits(),
    )
    return account_view(item)


@route(bp, "/accounts/{account_id}", "DELETE")
def delete_account(req: Request, account_id: str) -> Response:
    """Remove an account no strategy trades on."""
    req.container.accounts.delete(req.uid, account_id)
    return json_response(None, 204)
