"""Errors raised by the broker adapters.

Every adapter translates its broker's failures at its own edge, so that services see one tree
whatever the dialect (each dialect declares an error table read by one shared classifier:
``adapters/brokers/error_table.py``). Each error keeps the broker's own ``message`` and ``code`` (Kite's
``error_type``, Angel's ``errorcode``, Upstox's ``errorCode``, Fyers' numeric ``code``, Dhan's
``DH-9xx``, Noren's ``emsg``) and the HTTP status when there was one, so a trader can quote the
broker's words to its support desk.

Hierarchy::

    BrokerError                  base; ``retryable`` says whether an idempotent call may be resent
    ├── Unavailable              network failure, timeout, 5xx: the broker did not answer usefully
    ├── RateLimited              the broker refused for pace (HTTP 429 or its own rate code)
    ├── AuthExpired              token missing, invalid or past its expiry: log in again
    ├── IpNotAllowed             the request came from an IP the broker has not whitelisted
    ├── Rejected                 the broker's RMS or the exchange refused the order
    └── InvalidOrder             the request itself is malformed for this broker (input error)

``Unavailable`` on an order placement is *ambiguous*: the order may or may not exist. The base
adapter resolves that by looking the tag up before anything is resent (``base.py``). The service
layer maps this tree to ``DomainError`` (``Unavailable`` -> DependencyUnavailable, ``RateLimited``
-> TooManyRequests, ``AuthExpired`` / ``IpNotAllowed`` / ``Rejected`` / ``InvalidOrder`` ->
Unprocessable) in one place; nothing here knows about HTTP responses of our own API.
"""

from __future__ import annotations


class BrokerError(Exception):
    """Base of every broker failure, with the broker's own words kept verbatim."""

    kind = "broker_error"
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        broker: str = "",
        code: str | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.broker = broker
        self.code = code
        self.http_status = http_status

    def __str__(self) -> str:
        where = f"{self.broker}: " if self.broker else ""
        code = f" [{self.code}]" if self.code else ""
        return f"{where}{self.message}{code}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(broker={self.broker!r}, code={self.code!r}, "
            f"http_status={self.http_status!r}, {self.message!r})"
        )


class Unavailable(BrokerError):
    """The broker could not be reached or failed (timeouts, connection errors, 5xx).

    ``retryable`` is True for transport errors and 502/503/504 (a gateway that did not reach the
    OMS); a 500 is an answer from the broker's own code and is not resent automatically.
    ``sent`` is False only when the request provably never left (connection refused): then even
    an order placement may be resent without a lookup.
    """

    kind = "unavailable"

    def __init__(
        self,
        message: str,
        *,
        broker: str = "",
        code: str | None = None,
        http_status: int | None = None,
        retryable: bool = True,
        sent: bool = True,
    ) -> None:
        super().__init__(message, broker=broker, code=code, http_status=http_status)
        self.retryable = retryable
        self.sent = sent


class RateLimited(BrokerError):
    """The broker refused for pace; idempotent calls are retried after a wait."""

    kind = "rate_limited"
    retryable = True


class AuthExpired(BrokerError):
    """The session is missing, invalid or expired: the account must log in again."""

    kind = "auth_expired"


class IpNotAllowed(BrokerError):
    """The broker refuses orders from this IP (SEBI's static-IP rule for API orders)."""

    kind = "ip_not_allowed"

    def __init__(
        self,
        message: str,
        *,
        broker: str = "",
        code: str | None = None,
        http_status: int | None = None,
    ) -> None:
        advice = (
            "whitelist this deployment's static egress IP (the NAT gateway's Elastic IP, "
            "or your machine's public IP for `make run`) in the broker's API app settings"
        )
        super().__init__(
            f"{message} -- {advice}", broker=broker, code=code, http_status=http_status
        )
        self.broker_message = message


class Rejected(BrokerError):
    """The broker's RMS or the exchange refused the order (margin, freeze, band, lot size...)."""

    kind = "rejected"


class InvalidOrder(BrokerError):
    """The broker says the request is malformed (bad field, unknown symbol, bad enum)."""

    kind = "invalid_order"


class OrderNotFound(InvalidOrder):
    """The broker does not know the order id asked about."""

    kind = "order_not_found"
