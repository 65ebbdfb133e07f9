"""The template every dialect adapter fills in: this class owns the policy, dialects the mapping.

* ``HttpBroker.place``: never resent blindly. After an ambiguous failure (timeout, 5xx, a 2xx
  reply without an order id) the order may exist, so the tag is looked up repeatedly over a few
  seconds (order books lag); a found order is returned as a recovered ack, at most one resend
  happens and only when every lookup proved it absent; still ambiguous -> ``Unavailable`` with
  ``sent=True`` (outcome unknown), never a second resend.
* Place, modify and cancel pass through the per-account order-rate limiter (``rate_limit.py``).
* Idempotent calls are retried by the injected policy (``retry.py``), through the client of
  ``http_client.py``.
* Errors: each dialect declares its ``ErrorTable`` (``error_table.py``); the generic fallbacks by
  HTTP status apply when the table claims nothing.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any, ClassVar, Self

import httpx

from chalicelib.adapters.brokers.config import AdapterConfig
from chalicelib.adapters.brokers.error_table import (
    ErrorTable,
    margin_unsupported,
    status_error,
    transport_error,
)
from chalicelib.adapters.brokers.http_client import MASTER_TIMEOUT, decode_body, unpack
from chalicelib.adapters.brokers.placement import PlaceCall, PreparedPlace, wire_bytes
from chalicelib.ports.broker import (
    Modification,
    OrderAck,
    OrderRequest,
    OrderState,
    Session,
)
from chalicelib.ports.broker_errors import AuthExpired, BrokerError, Unavailable

log = logging.getLogger(__name__)


class HttpBroker(ABC):
    """Template for a dialect: subclasses map requests and replies; this class owns the policy."""

    name: ClassVar[str]
    default_hosts: ClassVar[Mapping[str, str]]
    #: The host key orders go to (Upstox places on its HFT host).
    order_host: ClassVar[str] = "api"
    #: How this dialect's error replies map onto the error tree.
    errors: ClassVar[ErrorTable]

    def __init__(self, config: AdapterConfig) -> None:
        self.config = config
        self.hosts = {**self.default_hosts, **config.hosts}

    def warm(self) -> None:
        """Open (and keep) the connection to the order host before T, so the first order of
        the slot does not pay a TCP and TLS handshake. Any answer will do; failure is harmless."""
        host = self.hosts.get(self.order_host)
        if not host:
            return
        try:
            self.config.client.request("HEAD", host.rstrip("/") + "/", timeout=2.0)
        except httpx.HTTPError:
            log.info("warm-up failed", extra={"broker": self.name})

    # ----------------------------------------------------------------- session
    def with_session(self, session: Session) -> Self:
        """The same adapter (client, retry policy, limiter) bound to a new session."""
        return type(self)(replace(self.config, session=session))

    @property
    def session(self) -> Session:
        session = self.config.session
        if session is None:
            raise AuthExpired("no session: log in first", broker=self.name)
        if session.expired(self.config.now()):
            raise AuthExpired(
                f"session expired at {session.expires_at.isoformat()}", broker=self.name
            )
        return session

    # ----------------------------------------------------------------- orders
    def place(self, request: OrderRequest, *, failed: Unavailable | None = None) -> OrderAck:
        """Place once; after an ambiguous failure look the tag up, repeatedly, before any resend.

        The order book may lag the acknowledgement by a few seconds, so one empty lookup proves
        nothing: the tag is looked up at each of ``lookup_delays``. Only an order absent at every
        lookup is resent, at most ``place_attempts - 1`` times (once by default). A request that
        is still ambiguous after the last attempt raises ``Unavailable`` with ``sent=True``: the
        outcome is unknown, the caller records it so and the recovery sweep resolves it.

        ``failed``: the first attempt already happened elsewhere (the firer's pre-serialised
        send at T, ``wire.py``) and failed so; this continues from its lookup.
        """
        attempts = max(1, self.config.place_attempts)
        maybe_sent = False
        for attempt in range(attempts):
            try:
                if attempt == 0 and failed is not None:
                    raise failed
                if attempt:
                    self.config.sleep(0.2 * attempt)
                self._pace()
                return self._place_checked(request)
            except Unavailable as exc:
                maybe_sent = maybe_sent or exc.sent
                log.warning(
                    "order placement failed ambiguously",
                    extra={
                        "broker": self.name,
                        "account": self.config.account,
                        "tag": request.tag,
                        "attempt": attempt + 1,
                        "sent": exc.sent,
                        "code": exc.code,
                    },
                )
                if exc.sent:
                    recovered = self._recover(request, exc)
                    if recovered is not None:
                        return recovered
                last = exc
        raise Unavailable(
            f"order state unknown after {attempts} attempt(s): {last.message}; not resent"
            if maybe_sent
            else last.message,
            broker=self.name,
            code=last.code,
            http_status=last.http_status,
            retryable=last.retryable,
            sent=maybe_sent,
        ) from last

    def prepare_place(self, request: OrderRequest) -> PreparedPlace:
        """The placement request for ``request`` as the bytes this adapter would send, built
        before T by the same dialect code as ``place`` (``_place_call``)."""
        call = self._place_call(request)
        http = self.config.client.build_request(
            call.method, self._url(call.host, call.path), **call.kwargs
        )
        return PreparedPlace(request, http, wire_bytes(http))

    def finish_place(self, prepared: PreparedPlace, response: httpx.Response) -> OrderAck:
        """The ack in ``response`` to a prepared placement sent elsewhere, read exactly as
        ``place`` reads its own (errors by dialect; an unreadable 2xx is ambiguous)."""
        return self._checked(
            lambda: self._place_ack(
                self._answer("POST", prepared.http.url.path, response, raw=False), prepared.request
            )
        )

    @property
    def pace_key(self) -> str:
        """The key of this adapter's budget in the order-rate limiter."""
        return self.config.account or self.name

    def wire_ready(self) -> bool:
        """Whether a prepared request may go out on a socket of its own: only through httpx's
        default transport without proxies (tests' in-memory transports keep the httpx path)."""
        client = self.config.client
        transport = getattr(client, "_transport", None)
        return type(transport) is httpx.HTTPTransport and not getattr(client, "_mounts", None)

    def _place_checked(self, request: OrderRequest) -> OrderAck:
        """``_place``; a reply the dialect cannot read (a 2xx without an order id) is ambiguous:
        the broker may have taken the order, so it is looked up, never assumed absent."""
        return self._checked(lambda: self._place(request))

    def _checked(self, read: Callable[[], OrderAck]) -> OrderAck:
        try:
            return read()
        except BrokerError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise Unavailable(
                f"unreadable placement reply ({type(exc).__name__}: {exc})",
                broker=self.name,
                code="malformed_reply",
                retryable=False,
                sent=True,
            ) from exc

    def _recover(self, request: OrderRequest, cause: Unavailable) -> OrderAck | None:
        """The order the ambiguous attempt created, looked up at each of ``lookup_delays``
        (the order book lags); None only when every lookup proved it absent."""
        for delay in self.config.lookup_delays:
            if delay:
                self.config.sleep(delay)
            found = self._lookup(request, cause)
            if found is not None:
                return found
        return None

    def _lookup(self, request: OrderRequest, cause: Unavailable) -> OrderAck | None:
        """One look at the order book for the tag; several matches are never guessed."""
        try:
            found = [
                s
                for s in self.find_by_tag(request.tag)
                if (s.side is None or s.side == request.side) and s.quantity == request.quantity
            ]
        except BrokerError as exc:
            raise Unavailable(
                f"order state unknown: placement failed ({cause.message}) and the tag lookup "
                f"failed ({exc.message}); not resent",
                broker=self.name,
                code=cause.code,
                http_status=cause.http_status,
                retryable=False,
            ) from exc
        if len(found) > 1:
            raise Unavailable(
                f"order state unknown: {len(found)} orders carry tag {request.tag}; not resent",
                broker=self.name,
                retryable=False,
            )
        if found:
            log.info(
                "recovered order by tag after ambiguous failure",
                extra={
                    "broker": self.name,
                    "account": self.config.account,
                    "tag": request.tag,
                    "order_id": found[0].order_id,
                },
            )
            return OrderAck(found[0].order_id, tag=request.tag, recovered=True)
        return None

    def cancel(self, order_id: str) -> OrderAck:
        """Ask for a cancellation (paced; not retried: the outcome shows in ``status``)."""
        self._pace()
        return self._cancel(order_id)

    def modify(self, order_id: str, change: Modification, *, request: OrderRequest) -> OrderAck:
        """Change an open order (paced; not retried)."""
        self._pace()
        return self._modify(order_id, change, request)

    def find_by_tag(self, tag: str) -> Sequence[OrderState]:
        """Orders carrying ``tag``, from the order book (dialects with a tag endpoint override)."""
        return [state for state in self.order_book() if state.tag == tag]

    # ----------------------------------------------------------------- margin
    def basket_margin(self, requests: Sequence[OrderRequest]) -> Decimal:
        """Rupees the broker would block for ``requests`` placed together (spread benefit in)."""
        raise margin_unsupported(self.name)

    def funds(self) -> Decimal:
        """Rupees available for new F&O positions on the account."""
        raise margin_unsupported(self.name)

    def _pace(self) -> None:
        if self.config.limiter is not None:
            self.config.limiter.acquire(self.config.account or self.name)

    # ------------------------------------------------------------ dialect hooks
    @abstractmethod
    def login_url(self, state: str) -> str: ...

    @abstractmethod
    def exchange_code(self, code: str) -> Session: ...

    def _place(self, request: OrderRequest) -> OrderAck:
        call = self._place_call(request)
        body = self._call(call.method, call.host, call.path, idempotent=False, **call.kwargs)
        return self._place_ack(body, request)

    @abstractmethod
    def _place_call(self, request: OrderRequest) -> PlaceCall:
        """The dialect's placement request: method, host key, path and httpx arguments."""

    @abstractmethod
    def _place_ack(self, body: Any, request: OrderRequest) -> OrderAck:
        """The ack in the decoded body of a successful placement reply."""

    @abstractmethod
    def _cancel(self, order_id: str) -> OrderAck: ...

    @abstractmethod
    def _modify(self, order_id: str, change: Modification, request: OrderRequest) -> OrderAck: ...

    @abstractmethod
    def status(self, order_id: str) -> OrderState: ...

    @abstractmethod
    def order_book(self) -> Sequence[OrderState]: ...

    # ----------------------------------------------------------------- transport
    def _url(self, host: str, path: str) -> str:
        return f"{self.hosts[host].rstrip('/')}{path}"

    def _call(
        self,
        method: str,
        host: str,
        path: str,
        *,
        idempotent: bool,
        timeout: httpx.Timeout | None = None,
        raw: bool = False,
        **kwargs: Any,
    ) -> Any:
        """One request, retried per the injected policy only when ``idempotent``.

        Returns the decoded body (JSON or text), or the bytes when ``raw`` (instrument masters).
        """
        if idempotent:
            return self.config.retrying.copy()(
                self._once, method, host, path, timeout=timeout, raw=raw, **kwargs
            )
        return self._once(method, host, path, timeout=timeout, raw=raw, **kwargs)

    def _once(
        self,
        method: str,
        host: str,
        path: str,
        *,
        timeout: httpx.Timeout | None,
        raw: bool,
        **kwargs: Any,
    ) -> Any:
        if timeout is not None:
            kwargs["timeout"] = timeout
        try:
            response = self.config.client.request(method, self._url(host, path), **kwargs)
        except httpx.TransportError as exc:
            raise transport_error(self.name, exc) from exc
        return self._answer(method, path, response, raw=raw)

    def _answer(self, method: str, path: str, response: httpx.Response, *, raw: bool) -> Any:
        """The decoded body of ``response``, or the dialect's error for it."""
        body = decode_body(response)
        error = self.errors.classify(self.name, response, body) or status_error(
            self.name, response, body
        )
        if error is not None:
            log.info(
                "broker call failed",
                extra={
                    "broker": self.name,
                    "account": self.config.account,
                    "method": method,
                    "path": path,
                    "status": response.status_code,
                    "error": error.kind,
                    "code": error.code,
                },
            )
            raise error
        return response.content if raw else body

    def _master(self, host: str, path: str, **kwargs: Any) -> bytes:
        """An instrument master download: long read timeout, retried, unpacked."""
        content = self._call(
            "GET", host, path, idempotent=True, raw=True, timeout=MASTER_TIMEOUT, **kwargs
        )
        return unpack(content)
