"""Broker accounts of the caller. Secrets go in, never out."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.api.routing import Request, json_response, route
from chalicelib.api.schemas import AccountIn, AccountPatch
from chalicelib.api.views import account_view

bp = Blueprint(__name__)


@route(bp, "/accounts", "POST", body=AccountIn, status=201)
def create_account(req: Request) -> dict[str, Any]:
    """Connect a broker account; api_key and api_secret are sealed with KMS and never returned."""
    body: AccountIn = req.body
    item = req.container.accounts.create(
        req.uid,
        broker=body.broker,
        client_id=body.client_id,
        label=body.label,
        secrets=body.secrets(),
        static_ip_note=body.static_ip_note,
    )
    return account_view(item)


@route(bp, "/accounts", "GET")
def list_accounts(req: Request) -> dict[str, Any]:
    """The caller's broker accounts."""
    return {"items": [account_view(a) for a in req.container.accounts.list(req.uid)]}


@route(bp, "/accounts/{account_id}", "GET")
def get_account(req: Request, account_id: str) -> dict[str, Any]:
    """One broker account."""
    return account_view(req.container.accounts.get(req.uid, account_id))


@route(bp, "/accounts/{account_id}", "PATCH", body=AccountPatch)
def update_account(req: Request, account_id: str) -> dict[str, Any]:
    """Relabel an account or rotate its API credentials."""
    body: AccountPatch = req.body
    item = req.container.accounts.update(
        req.uid,
        account_id,
        label=body.label,
        static_ip_note=body.static_ip_note,
        secrets=body.secrets(),
        version=body.version,
    )
    return account_view(item)


@route(bp, "/accounts/{account_id}", "DELETE")
def delete_account(req: Request, account_id: str) -> Response:
    """Remove an account no strategy trades on."""
    req.container.accounts.delete(req.uid, account_id)
    return json_response(None, 204)
