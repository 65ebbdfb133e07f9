"""The domain error tree and its one mapping to HTTP.

Services and domain code raise these; the API layer turns them into
``{"error": {"code", "message", "field"}}`` with the status below. Nothing else decides a status.

DomainError
 ├── ValidationFailed        400  bad input; `field` names the offending field (e.g. legs[2].strike.value)
 ├── Unauthenticated         401  no, expired or invalid token
 ├── Forbidden               403
 ├── NotFound                404  also for another user's ids: existence is not disclosed
 ├── Conflict                409  duplicates, lost optimistic-locking races (stale `version`)
 │    └── ConcurrentChange        a conditional write lost to a concurrent request: the service
 │                                may re-read and retry; what is left answers 409
 ├── PreconditionFailed      412
 ├── Unprocessable           422  well-formed but refused by a market or account rule
 ├── TooManyRequests         429
 └── DependencyUnavailable   503  a dependency (DynamoDB, Cognito, broker) failed; safe to retry
"""

from __future__ import annotations


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code

    def body(self) -> dict[str, dict[str, str | None]]:
        return {"error": {"code": self.code, "message": self.message, "field": self.field}}


class ValidationFailed(DomainError):
    status = 400
    code = "validation_failed"


class Unauthenticated(DomainError):
    status = 401
    code = "unauthenticated"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class ConcurrentChange(Conflict):
    """Raised by the storage layer for a lost conditional race (not a stale client version), so
    services can tell "re-read and try again" from "the caller's copy is stale"."""


class PreconditionFailed(DomainError):
    status = 412
    code = "precondition_failed"


class Unprocessable(DomainError):
    status = 422
    code = "unprocessable"


class TooManyRequests(DomainError):
    status = 429
    code = "too_many_requests"


class DependencyUnavailable(DomainError):
    status = 503
    code = "dependency_unavailable"
