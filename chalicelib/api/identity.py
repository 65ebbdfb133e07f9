"""Sign-up, confirmation, login and the caller's profile."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api import responses as R
from chalicelib.api.routing import Request, route
from chalicelib.api.schemas import ConfirmIn, LoginIn, ProfilePatch, RefreshIn, SignupIn
from chalicelib.api.views import profile_view

bp = Blueprint(__name__)


@route(bp, "/auth/signup", "POST", auth=False, body=SignupIn, status=201, response=R.SIGNED_UP)
def signup(req: Request) -> dict[str, Any]:
    """Create a user (confirmed at once on the local stage; otherwise a code is mailed)."""
    body: SignupIn = req.body
    profile, confirmed = req.container.identity.sign_up(
        body.email, body.password, body.name, body.phone, body.state
    )
    return {**profile_view(profile), "confirmed": confirmed}


@route(bp, "/auth/confirm", "POST", auth=False, body=ConfirmIn, response=R.CONFIRMED)
def confirm(req: Request) -> dict[str, Any]:
    """Confirm a sign-up with the mailed code."""
    body: ConfirmIn = req.body
    req.container.identity.confirm(body.email, body.code)
    return {"confirmed": True}


@route(bp, "/auth/login", "POST", auth=False, body=LoginIn, response=R.TOKENS)
def login(req: Request) -> dict[str, Any]:
    """Exchange email and password for Cognito tokens; send the id_token as a Bearer token."""
    body: LoginIn = req.body
    tokens = req.container.identity.login(body.email, body.password)
    return {
        "id_token": tokens.id_token,
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "expires_in": tokens.expires_in,
    }


@route(bp, "/auth/refresh", "POST", auth=False, body=RefreshIn, response=R.REFRESHED)
def refresh(req: Request) -> dict[str, Any]:
    """New id and access tokens for the refresh token from /auth/login (the web app's silent
    refresh); the refresh token itself is not returned again."""
    body: RefreshIn = req.body
    tokens = req.container.identity.refresh(body.refresh_token)
    return {
        "id_token": tokens.id_token,
        "access_token": tokens.access_token,
        "expires_in": tokens.expires_in,
    }


@route(bp, "/me", "GET", response=R.PROFILE)
def me(req: Request) -> dict[str, Any]:
    """The caller's profile."""
    return profile_view(req.container.identity.profile(req.uid))


@route(bp, "/me", "PATCH", body=ProfilePatch, response=R.PROFILE)
def update_me(req: Request) -> dict[str, Any]:
    """Change name, phone or state."""
    body: ProfilePatch = req.body
    profile = req.container.identity.update_profile(
        req.uid, name=body.name, phone=body.phone, state=body.state
    )
    return profile_view(profile)
