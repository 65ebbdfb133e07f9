"""Behaviour every dialect adapter shares, written once: HTTP client, retries, pacing, recovery.

* ``make_client``: an ``httpx.Client`` with explicit timeouts (a hung broker must not eat the
  second we have to place an order in) and no redirects.
* ``make_retrying``: a tenacity ``Retrying`` built per adapter and injected through
  ``AdapterConfig``, so tests pass a no-op sleep. It retries only failures marked ``retryable``
  (transport errors, 429, 502-504) and is applied only to idempotent calls (GETs, status).
* ``HttpBroker.place``: never resent blindly. After an ambiguous failure (timeout, 5xx, a 2xx
  reply without an order id) the order may exist, so the tag is looked up repeatedly over a few
  seconds (order books lag); a found order is returned as a recovered ack, at most one resend
  happens and only when every lookup proved it absent; still ambiguous -> ``Unavailable`` with
  ``sent=True`` (outcome unknown), never a second resend.
* Place, modify and cancel pass through the per-account order-rate limiter (``rate_limit.py``).
* Error mapping helpers: each dialect classifies its own bodies in ``_classify``; the generic
  fallbacks by HTTP status live here.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import re
import time
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Self
from zoneinfo import ZoneInfo

import httpx
from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from chalicelib.adapters.brokers.rate_limit import OrderRateLimiter
from chalicelib.domain.instrument import Broker as DomainBroker
from chalicelib.domain.instrument import BrokerRef, Instrument
from chalicelib.domain.symbols import fyers_symbol, kite_symbol, noren_symbol
from chalicelib.ports.broker import (
    Credentials,
    Modification,
    OrderAck,
    OrderRequest,
    OrderState,
    OrderStatus,
    Product,
    Session,
)
from chalicelib.ports.broker_errors import (
    AuthExpired,
    BrokerError,
    InvalidOrder,
    RateLimited,
    Unavailable,
)

IST = ZoneInfo("Asia/Kolkata")
log = logging.getLogger(__name__)

#: Connect fast or fail; reads may take a little longer (order book, quotes). Masters are big:
#: ``instruments()`` passes its own read timeout.
DEFAULT_TIMEOUT = httpx.Timeout(connect=3.0, read=5.0, write=5.0, pool=2.0)
MASTER_TIMEOUT = httpx.Timeout(60.0, connect=5.0)
RETRYABLE_STATUS = frozenset({502, 503, 504})


def make_client(
    *,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """An httpx client for one broker: explicit timeouts, no redirects, an uncapped keep-alive
    pool."""
    return httpx.Client(
        timeout=timeout,
        transport=transport,
        follow_redirects=False,
        # One client serves every account of a broker in a process: a cap below the account
        # count would queue one account's order behind another's at T.
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=1024),
        headers={"User-Agent": "optexec-broker-adapter"},
    )


def is_retryable(exc: BaseException) -> bool:
    """Retry predicate: only broker errors that say so (transport, 429, 502-504)."""
    return isinstance(exc, BrokerError) and exc.retryable


def make_retrying(
    *,
    sleep: Callable[[float], None] = time.sleep,
    attempts: int = 3,
    max_delay: float = 3.0,
) -> Retrying:
    """The retry policy for idempotent calls; inject ``sleep`` (tests pass a no-op)."""
    return Retrying(
        sleep=sleep,
        stop=stop_after_attempt(attempts) | stop_after_delay(max_delay),
        wait=wait_exponential_jitter(multiplier=0.2, max=1.0, jitter=0.2),
        retry=retry_if_exception(is_retryable),
        reraise=True,
    )


def ist_now() -> datetime:
    return datetime.now(IST)


@dataclass(frozen=True)
class AdapterConfig:
    """Everything an adapter is built from; wired by ``registry.build_broker`` / the container.

    ``account`` keys the order-rate limiter; ``hosts`` overrides the dialect's default base URLs
    (the fake brokers run on loopback); ``place_attempts`` bounds placement attempts, each after
    the tag lookups (``lookup_delays``) proved the previous one absent.
    """

    credentials: Credentials
    client: httpx.Client
    retrying: Retrying
    account: str = ""
    session: Session | None = None
    hosts: Mapping[str, str] = field(default_factory=dict)
    limiter: OrderRateLimiter | None = None
    now: Callable[[], datetime] = ist_now
    sleep: Callable[[float], None] = time.sleep
    place_attempts: int = 2
    #: Seconds to wait before each tag lookup after an ambiguous placement (~3 s in all): the
    #: order book lags the acknowledgement, so a single empty lookup proves nothing.
    lookup_delays: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5)


@dataclass(frozen=True)
class PlaceCall:
    """A dialect's placement request before it is sent: what ``_call`` takes."""

    method: str
    host: str
    path: str
    kwargs: dict[str, Any]


@dataclass(frozen=True)
class PreparedPlace:
    """A placement serialised ahead of time: the request, httpx's request, the wire bytes."""

    request: OrderRequest
    http: httpx.Request
    wire: bytes


def wire_bytes(http: httpx.Request) -> bytes:
    """``http`` as HTTP/1.1 bytes (request line, the headers httpx would send, body)."""
    head = b"%s %s HTTP/1.1\r\n" % (http.method.encode(), http.url.raw_path)
    lines = b"".join(b"%s: %s\r\n" % (k, v) for k, v in http.headers.raw)
    return head + lines + b"\r\n" + http.read()


class HttpBroker(ABC):
    """Template for a dialect: subclasses map requests and replies; this class owns the policy."""

    name: ClassVar[str]
    default_hosts: ClassVar[Mapping[str, str]]
    #: The host key orders go to (Upstox places on its HFT host).
    order_host: ClassVar[str] = "api"

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

    @abstractmethod
    def _classify(self, response: httpx.Response, body: Any) -> BrokerError | None:
        """This dialect's error for ``response``, or None when it is a success."""

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
        error = self._classify(response, body) or status_error(self.name, response, body)
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


# --------------------------------------------------------------------------- helpers
def margin_unsupported(broker: str) -> Unavailable:
    return Unavailable(
        f"{broker}: no margin endpoint", broker=broker, code="margin_unsupported", retryable=False
    )


def rupees(value: Any, broker: str, what: str) -> Decimal:
    """A margin or funds figure from a reply (number or text); an unreadable one is
    ``Unavailable`` (the margin check then fails open with an alert, never guesses)."""
    try:
        result = Decimal(str(value).replace(",", ""))
    except (InvalidOperation, ValueError):
        result = Decimal("NaN")
    if value is None or isinstance(value, bool) or not result.is_finite():
        raise Unavailable(
            f"unreadable {what} in the margin reply: {value!r}",
            broker=broker, code="malformed_reply", retryable=False,
        )  # fmt: skip
    return result


def decode_body(response: httpx.Response) -> Any:
    """JSON when the body is JSON, else the text (some gateways answer plain text or HTML)."""
    if not response.content:
        return None
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text


def unpack(content: bytes) -> bytes:
    """Masters come as plain text, gzip (Upstox) or zip (Noren): return the plain bytes."""
    if content[:2] == b"\x1f\x8b":
        return gzip.decompress(content)
    if content[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return archive.read(archive.namelist()[0])
    return content


def transport_error(broker: str, exc: httpx.TransportError) -> Unavailable:
    """A transport failure as ``Unavailable``; ``sent`` is False only when nothing left."""
    never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    return Unavailable(
        f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__,
        broker=broker,
        code=type(exc).__name__,
        sent=not never_sent,
    )


def status_error(broker: str, response: httpx.Response, body: Any) -> BrokerError | None:
    """Generic mapping by HTTP status, used after the dialect found nothing specific."""
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


def server_error(
    broker: str, response: httpx.Response, message: str, code: str | None
) -> Unavailable:
    """A 5xx with the broker's own words."""
    return Unavailable(
        message,
        broker=broker,
        code=code,
        http_status=response.status_code,
        retryable=response.status_code in RETRYABLE_STATUS,
    )


def map_status(table: Mapping[str, OrderStatus], raw: str, broker: str) -> OrderStatus:
    """Canonical status for a broker status; an unknown one is PENDING (keep polling) + a log."""
    key = raw.strip().upper()
    if key in table:
        return table[key]
    if key.endswith("PENDING") or key.endswith("RECEIVED"):
        return OrderStatus.PENDING
    log.warning("unknown broker order status", extra={"broker": broker, "status": raw})
    return OrderStatus.PENDING


def decimal_or_none(value: Any) -> Decimal | None:
    """A price from a JSON number or string (via ``str`` so floats stay exact); 0 -> None."""
    if value is None or value == "":
        return None
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        return None
    return result if result.is_finite() and result != 0 else None


def whole(value: Any) -> int:
    """An integer quantity from a JSON number or string ("75", 75.0); junk -> 0."""
    if value is None or value == "":
        return 0
    try:
        return int(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return 0


def product_from(raw: Any, table: Mapping[str, Product]) -> Product | None:
    """Canonical product for a broker's product code (None for CNC, CO, BO...)."""
    return table.get(str(raw or "").upper())


def price_text(value: Decimal) -> str:
    """A price as brokers want it in text fields: plain notation, tick precision kept."""
    return format(value, "f")


def price_number(value: Decimal | None) -> float:
    """A price for JSON number fields (exact for 0.05-tick values via the shortest repr)."""
    return float(value) if value is not None else 0.0


def broker_ref(instrument: Instrument, broker: DomainBroker, name: str) -> BrokerRef:
    """The instrument's symbol/token at ``broker``; computed for symbol-only dialects.

    Services pass instruments from the market model (refs filled from the master). Kite, Fyers
    and Noren orders carry only a symbol, which the market model can compute without a master;
    Angel, Upstox and Dhan need the master's token, so a missing ref is an ``InvalidOrder``.
    """
    if broker in instrument.refs:
        return instrument.refs[broker]
    if broker is DomainBroker.KITE:
        return BrokerRef(kite_symbol(instrument.key), "")
    if broker is DomainBroker.FYERS:
        return BrokerRef(fyers_symbol(instrument.key), "")
    if broker is DomainBroker.NOREN:
        return BrokerRef(noren_symbol(instrument.key), "")
    raise InvalidOrder(
        f"no {broker} token for {instrument.key}: load the {broker} master", broker=name
    )


_IP_WORD = re.compile(r"\bIPs?\b|ip address", re.I)
_IP_REFUSAL = re.compile(r"whitelist|not allowed|not registered|unauthori[sz]ed|static", re.I)


def mentions_ip_refusal(message: str) -> bool:
    """True when a broker's refusal text is about the caller's IP (static-IP rule)."""
    text = message or ""
    return bool(_IP_WORD.search(text) and _IP_REFUSAL.search(text)) or "whitelist" in text.lower()


def join_csv(first: bytes, second: bytes, *, header: bool = True) -> bytes:
    """Two CSV downloads as one file (the second's header dropped when ``header``)."""
    if header:
        second = second.partition(b"\n")[2]
    if first and not first.endswith(b"\n"):
        first += b"\n"
    return first + second
