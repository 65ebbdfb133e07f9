"""Cognito: sign-up, confirmation and password login, with Cognito's errors mapped to ours."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import (
    Conflict,
    DependencyUnavailable,
    DomainError,
    TooManyRequests,
    Unauthenticated,
    ValidationFailed,
)
from chalicelib.ports.identity import Tokens

_ERRORS: dict[str, tuple[type[DomainError], str, str | None]] = {
    "UsernameExistsException": (Conflict, "an account with this email already exists", "email"),
    "InvalidPasswordException": (
        ValidationFailed,
        "password must have at least 10 characters with upper and lower case letters, a digit and a symbol",
        "password",
    ),
    "InvalidParameterException": (ValidationFailed, "invalid sign-up parameters", "email"),
    "NotAuthorizedException": (Unauthenticated, "incorrect email or password", None),
    "UserNotFoundException": (Unauthenticated, "incorrect email or password", None),
    "UserNotConfirmedException": (Unauthenticated, "confirm your email first", None),
    "CodeMismatchException": (ValidationFailed, "the confirmation code is wrong", "code"),
    "ExpiredCodeException": (ValidationFailed, "the confirmation code has expired", "code"),
    "TooManyRequestsException": (TooManyRequests, "too many attempts; wait a minute", None),
    "LimitExceededException": (TooManyRequests, "too many attempts; wait a minute", None),
}

_CONFIRM_ERRORS: dict[str, tuple[type[DomainError], str, str | None]] = {
    "UserNotFoundException": (ValidationFailed, "no sign-up waits for this email", "email"),
    "NotAuthorizedException": (ValidationFailed, "this sign-up is already confirmed", "email"),
    "InvalidParameterException": (ValidationFailed, "invalid confirmation parameters", "code"),
    "ResourceNotFoundException": (ValidationFailed, "no sign-up waits for this email", "email"),
}

# A refresh token Cognito refuses is a failed sign-in (401), whatever Cognito calls it.
_REFRESH_ERRORS: dict[str, tuple[type[DomainError], str, str | None]] = {
    "NotAuthorizedException": (
        Unauthenticated,
        "the refresh token was refused; log in again",
        None,
    ),
    "UserNotFoundException": (Unauthenticated, "the refresh token was refused; log in again", None),
    "InvalidParameterException": (
        Unauthenticated,
        "the refresh token was refused; log in again",
        None,
    ),
    "ResourceNotFoundException": (
        Unauthenticated,
        "the refresh token was refused; log in again",
        None,
    ),
}


class CognitoIdentity:
    def __init__(self, client: Any, user_pool_id: str, client_id: str) -> None:
        self._client = client
        self._pool = user_pool_id
        self._client_id = client_id

    def sign_up(self, email: str, password: str) -> str:
        """Create the user and return its immutable id (`sub`)."""
        response = self._call(
            self._client.sign_up,
            ClientId=self._client_id,
            Username=email,
            Password=password,
            UserAttributes=[{"Name": "email", "Value": email}],
        )
        return str(response["UserSub"])

    def admin_confirm(self, email: str) -> None:
        self._call(self._client.admin_confirm_sign_up, UserPoolId=self._pool, Username=email)

    def confirm(self, email: str, code: str) -> None:
        """A confirmation with an unknown email or an already confirmed user is bad input
        (400), not a failed login (401)."""
        self._call(
            self._client.confirm_sign_up,
            errors=_CONFIRM_ERRORS,
            ClientId=self._client_id,
            Username=email,
            ConfirmationCode=code,
        )

    def login(self, email: str, password: str) -> Tokens:
        response = self._call(
            self._client.initiate_auth,
            ClientId=self._client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": email, "PASSWORD": password},
        )
        result = response["AuthenticationResult"]
        return Tokens(
            id_token=result["IdToken"],
            access_token=result["AccessToken"],
            refresh_token=result.get("RefreshToken", ""),
            expires_in=int(result.get("ExpiresIn", 3600)),
        )

    def refresh(self, refresh_token: str) -> Tokens:
        """New id and access tokens for a refresh token (REFRESH_TOKEN_AUTH); a refused one
        (expired, revoked, forged) is a 401. Cognito returns no new refresh token here: the
        caller keeps the one it has, so ``refresh_token`` is the one sent."""
        response = self._call(
            self._client.initiate_auth,
            errors=_REFRESH_ERRORS,
            ClientId=self._client_id,
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": refresh_token},
        )
        result = response["AuthenticationResult"]
        return Tokens(
            id_token=result["IdToken"],
            access_token=result["AccessToken"],
            refresh_token=result.get("RefreshToken") or refresh_token,
            expires_in=int(result.get("ExpiresIn", 3600)),
        )

    @staticmethod
    def _call(method: Any, errors: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        table = {**_ERRORS, **(errors or {})}
        try:
            return method(**kwargs)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in table:
                kind, message, field = table[code]
                raise kind(message, field=field) from error
            raise DependencyUnavailable("identity service unavailable; retry shortly") from error
        except BotoCoreError as error:
            raise DependencyUnavailable("identity service unavailable; retry shortly") from error
