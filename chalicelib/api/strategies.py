"""Strategies of the caller: CRUD, pause/resume, and what the schedule index holds for them."""

from __future__ import annotations

import json
from typing import Any

from chalice import Blueprint, Response

from chalicelib.api import responses as R
from chalicelib.api.routing import Request, json_response, load_json_object, parse_body, route
from chalicelib.api.schemas import VersionIn
from chalicelib.api.strategy_schemas import StrategyIn, StrategyPut
from chalicelib.api.views import strategy_view
from chalicelib.domain.strategy import StrategyStatus

bp = Blueprint(__name__)


@route(bp, "/strategies", "POST", body=StrategyIn, status=201, response=R.STRATEGY)
def create_strategy(req: Request) -> dict[str, Any]:
    """Create a strategy; its schedule entries are written in the same transaction."""
    body: StrategyIn = req.body
    return strategy_view(req.container.strategies.create(req.uid, body.to_domain()))


@route(bp, "/strategies", "GET", query=("basket_id",), response=R.items_of(R.STRATEGY))
def list_strategies(req: Request) -> dict[str, Any]:
    """The caller's strategies, optionally of one basket."""
    items = req.container.strategies.list(req.uid, req.query.get("basket_id"))
    return {"items": [strategy_view(s) for s in items]}


@route(bp, "/strategies/{strategy_id}", "GET", response=R.STRATEGY)
def get_strategy(req: Request, strategy_id: str) -> dict[str, Any]:
    """One strategy."""
    return strategy_view(req.container.strategies.get(req.uid, strategy_id))


@route(bp, "/strategies/{strategy_id}", "PUT", body=StrategyPut, response=R.STRATEGY)
def replace_strategy(req: Request, strategy_id: str) -> dict[str, Any]:
    """Replace a strategy (send `version` for optimistic locking)."""
    body: StrategyPut = req.body
    item = req.container.strategies.replace(req.uid, strategy_id, body.to_domain(), body.version)
    return strategy_view(item)


@route(bp, "/strategies/{strategy_id}", "PATCH", response=R.STRATEGY)
def patch_strategy(req: Request, strategy_id: str) -> dict[str, Any]:
    """Merge top-level fields into the stored strategy, then validate it whole."""
    service = req.container.strategies
    current = service.get(req.uid, strategy_id)
    patch = _patch_document()
    merged = {**current.spec, **patch}
    merged.setdefault("version", current.version)
    body = parse_body(json.dumps(merged), StrategyPut)
    if not isinstance(body, StrategyPut):  # pragma: no cover - parse_body returns the schema
        raise TypeError("unexpected schema")
    item = service.replace(req.uid, strategy_id, body.to_domain(), body.version)
    return strategy_view(item)


def _patch_document() -> dict[str, Any]:
    return load_json_object(bp.current_request.raw_body)


@route(bp, "/strategies/{strategy_id}", "DELETE")
def delete_strategy(req: Request, strategy_id: str) -> Response:
    """Delete a strategy and its schedule entries."""
    req.container.strategies.delete(req.uid, strategy_id)
    return json_response(None, 204)


@route(bp, "/strategies/{strategy_id}/pause", "POST", body=VersionIn, response=R.STRATEGY)
def pause_strategy(req: Request, strategy_id: str) -> dict[str, Any]:
    """Stop scheduling a strategy (its schedule entries are removed)."""
    body: VersionIn = req.body
    item = req.container.strategies.set_status(
        req.uid, strategy_id, StrategyStatus.PAUSED, body.version
    )
    return strategy_view(item)


@route(bp, "/strategies/{strategy_id}/resume", "POST", body=VersionIn, response=R.STRATEGY)
def resume_strategy(req: Request, strategy_id: str) -> dict[str, Any]:
    """Schedule a paused strategy again."""
    body: VersionIn = req.body
    item = req.container.strategies.set_status(
        req.uid, strategy_id, StrategyStatus.ACTIVE, body.version
    )
    return strategy_view(item)
