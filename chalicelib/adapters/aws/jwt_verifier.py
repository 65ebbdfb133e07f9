"""Verifies Cognito ID tokens: RS256 signature against the pool's JWKS, issuer, audience, expiry
and token use. The caller's user id comes from the token's `sub` and nowhere else."""

from __future__ import annotations

import threading

import jwt

from chalicelib.errors import DependencyUnavailable, Unauthenticated


class JwtVerifier:
    def __init__(self, jwks_url: str, issuer: str, audience: str, leeway_seconds: int = 30) -> None:
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway_seconds
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=3600, timeout=2)
        self._lock = threading.Lock()

    def user_id(self, token: str) -> str:
        try:
            with self._lock:
                key = self._jwks.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.PyJWKClientConnectionError as error:
            raise DependencyUnavailable("cannot reach the identity key set") from error
        except jwt.ExpiredSignatureError as error:
            raise Unauthenticated("the token has expired; log in again") from error
        except (jwt.PyJWTError, ValueError) as error:
            raise Unauthenticated("invalid token") from error
        if claims.get("token_use") != "id":
            raise Unauthenticated("an ID token is required")
        return str(claims["sub"])
