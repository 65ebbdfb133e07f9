"""Baskets of the caller. Disabling a basket unschedules all its strategies at once."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.api import responses as R
from chalicelib.api.routing import Request, json_response, route
from chalicelib.api.schemas import BasketIn, BasketPatch
from chalicelib.api.views import basket_view

bp = Blueprint(__name__)


@route(bp, "/baskets", "POST", body=BasketIn, status=201, response=R.BASKET)
def create_basket(req: Request) -> dict[str, Any]:
    """Create a basket."""
    body: BasketIn = req.body
    return basket_view(req.container.baskets.create(req.uid, body.name, body.enabled))


@route(bp, "/baskets", "GET", response=R.items_of(R.BASKET))
def list_baskets(req: Request) -> dict[str, Any]:
    """The caller's baskets."""
    return {"items": [basket_view(b) for b in req.container.baskets.list(req.uid)]}


@route(bp, "/baskets/{basket_id}", "GET", response=R.BASKET)
def get_basket(req: Request, basket_id: str) -> dict[str, Any]:
    """One basket."""
    return basket_view(req.container.baskets.get(req.uid, basket_id))


@route(bp, "/baskets/{basket_id}", "PATCH", body=BasketPatch, response=R.BASKET)
def update_basket(req: Request, basket_id: str) -> dict[str, Any]:
    """Rename, enable or disable a basket (its strategies' schedules follow)."""
    body: BasketPatch = req.body
    item = req.container.baskets.update(
        req.uid, basket_id, name=body.name, enabled=body.enabled, version=body.version
    )
    return basket_view(item)


@route(bp, "/baskets/{basket_id}", "DELETE")
def delete_basket(req: Request, basket_id: str) -> Response:
    """Delete an empty basket."""
    req.container.baskets.delete(req.uid, basket_id)
    return json_response(None, 204)
