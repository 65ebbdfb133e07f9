"""One classifier for every dialect's error replies; each dialect brings only its table.

Why: the six dialects used to repeat the same ladder (pace, IP, auth, server, not found, RMS,
input) with only their codes and words differing. Now a dialect declares an ``ErrorTable``:

* ``failed``: whether a JSON body says "error" on a 2xx (Kite's ``status: "error"``, Fyers'
  ``s: "error"``, Noren's ``stat: "Not_Ok"``...); any status of 400 or more is a failure anyway;
* ``read``: the broker's own message and code in that body (``Fault``);
* ``rules``: ordered rows, the first match wins. A row matches when ANY of its conditions holds
  (an HTTP status, a broker code, a word of the message, any 5xx, a predicate on the message);
* ``text_rules``: rows for plain-text bodies (Angel's rate gate answers text); a text body no row
  matches is left to the generic mapping by status;
* ``fallback``: the error of a failure no row matches (``InvalidOrder``: the request was refused
  for a reason we cannot name better).

A body that is not a JSON object (HTML from a gateway, empty) is not the dialect's: it is mapped
by HTTP status alone (``status_error``), as is a failure whose body the table leaves unclaimed.
The error tree itself is documented in ``chalicelib/ports/broker_errors.py``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from chalicelib.ports.broker_errors import (
    AuthExpired,
    BrokerError,
    InvalidOrder,
    IpNotAllowed,
    RateLimited,
    Unavailable,
)

#: Gateways that did not reach the broker's order system: safe to resend an idempotent call. A
#: 500 is an answer from the broker's own code and is not resent automatically.
RETRYABLE_STATUS = frozenset({502, 503, 504})

_IP_WORD = re.compile(r"\bIPs?\b|ip address", re.I)
_IP_REFUSAL = re.compile(r"whitelist|not allowed|not registered|unauthori[sz]ed|static", re.I)


def mentions_ip_refusal(message: str) -> bool:
    """True when a broker's refusal text is about the caller's IP (static-IP rule)."""
    text = message or ""
    return bool(_IP_WORD.search(text) and _IP_REFUSAL.search(text)) or "whitelist" in text.lower()


def text_of(value: Any) -> str:
    """A body field as text: "" for a missing or empty one (so the reason phrase stands in)."""
    return str(value) if value else ""


@dataclass(frozen=True, slots=True)
class Fault:
    """The broker's own words in an error body: its message ("" when it gave none) and code."""

    message: str
    code: str | None


@dataclass(frozen=True)
class Rule:
    """One row of a table: the error raised when any of its conditions holds.

    ``retryable`` applies to ``Unavailable`` only; None there means "by status" (502-504).
    """

    error: type[BrokerError]
    statuses: Collection[int] = ()
    codes: Collection[str] = ()
    #: Lower-case fragments searched for in the lower-cased message.
    words: tuple[str, ...] = ()
    server: bool = False
    test: Callable[[str], bool] | None = None
    retryable: bool | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "statuses", frozenset(self.statuses))
        object.__setattr__(self, "codes", frozenset(self.codes))

    def matches(self, status: int, fault: Fault) -> bool:
        lowered = fault.message.lower()
        return (
            status in self.statuses
            or (fault.code is not None and fault.code in self.codes)
            or any(word in lowered for word in self.words)
            or (self.server and status >= 500)
            or (self.test is not None and self.test(fault.message))
        )

    def build(self, broker: str, status: int, fault: Fault) -> BrokerError:
        args: dict[str, Any] = {"broker": broker, "code": fault.code, "http_status": status}
        if issubclass(self.error, Unavailable):
            retryable = self.retryable
            args["retryable"] = status in RETRYABLE_STATUS if retryable is None else retryable
        return self.error(fault.message, **args)


#: Rows every dialect shares, in the place each dialect's ladder puts them.
IP_REFUSED = Rule(IpNotAllowed, test=mentions_ip_refusal)
SERVER_ERROR = Rule(Unavailable, server=True)


@dataclass(frozen=True)
class ErrorTable:
    """A dialect's error replies as data; ``classify`` is the one reading of every table."""

    failed: Callable[[Mapping[str, Any]], bool]
    read: Callable[[Mapping[str, Any]], Fault]
    rules: tuple[Rule, ...]
    text_rules: tuple[Rule, ...] = ()
    fallback: type[BrokerError] = InvalidOrder

    def classify(self, broker: str, response: httpx.Response, body: Any) -> BrokerError | None:
        """The dialect's error for ``response``; None for a success or a body it does not own
        (then ``status_error`` maps the status)."""
        status = response.status_code
        if isinstance(body, str):
            fault = Fault(body.strip(), None)
            return self._first(self.text_rules, broker, status, fault)
        if not isinstance(body, dict) or (status < 400 and not self.failed(body)):
            return None
        said = self.read(body)
        fault = Fault(said.message or response.reason_phrase, said.code)
        found = self._first(self.rules, broker, status, fault)
        return found or self.fallback(
            fault.message, broker=broker, code=fault.code, http_status=status
        )

    @staticmethod
    def _first(
        rules: tuple[Rule, ...], broker: str, status: int, fault: Fault
    ) -> BrokerError | None:
        for rule in rules:
            if rule.matches(status, fault):
                return rule.build(broker, status, fault)
        return None


def status_error(broker: str, response: httpx.Response, body: Any) -> BrokerError | None:
    """Generic mapping by HTTP status, used when the dialect's table found nothing specific."""
    status = response.status_code
    if status < 400:
        return None
    message = body if isinstance(body, str) and body else response.reason_phrase
    if status == 429:
        return RateLimited(message or "too many requests", broker=broker, http_status=status)
    if status >= 500:
        return Unavailable(
            message or "server error",
            broker=broker,
            http_status=status,
            retryable=status in RETRYABLE_STATUS,
        )
    if status in (401, 403):
        return AuthExpired(message or "not authorised", broker=broker, http_status=status)
    return InvalidOrder(message or f"HTTP {status}", broker=broker, http_status=status)


def transport_error(broker: str, exc: httpx.TransportError) -> Unavailable:
    """A transport failure as ``Unavailable``; ``sent`` is False only when nothing left."""
    never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    return Unavailable(
        f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__,
        broker=broker,
        code=type(exc).__name__,
        sent=not never_sent,
    )


def margin_unsupported(broker: str) -> Unavailable:
    """The error of a dialect without a margin endpoint (the margin check records it)."""
    return Unavailable(
        f"{broker}: no margin endpoint", broker=broker, code="margin_unsupported", retryable=False
    )
