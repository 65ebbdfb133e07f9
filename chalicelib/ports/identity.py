"""Credentials and tokens: the identity provider (Cognito on AWS and on the emulator).

It owns passwords and confirmation; the platform stores only the profile. Its failures are
``DomainError``s already (wrong password, unknown user, weak password), mapped at its edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Tokens:
    id_token: str
    access_token: str
    refresh_token: str
    expires_in: int


class IdentityProvider(Protocol):
    def sign_up(self, email: str, password: str) -> str:
        """Register the user; answers the new user's id (the ``uid`` of every record)."""
        ...

    def admin_confirm(self, email: str) -> None: ...

    def confirm(self, email: str, code: str) -> None: ...

    def login(self, email: str, password: str) -> Tokens: ...

    def refresh(self, refresh_token: str) -> Tokens: ...
