"""What every fake broker server shares: routing, sessions, faults, rate limit, request log.

A dialect subclass declares its routes, how it authenticates a request and how it words its
refusals (``declare_refusals``, see ``sim.brokers.refusals``); this base runs the WSGI app
(werkzeug, threaded, 127.0.0.1 only, keep-alive: ``sim.brokers.wsgi``) and applies, in the
order a real broker does, the checks that are not dialect-specific:

1. authentication (the dialect's header) and token expiry at the broker's hour;
2. injected HTTP faults: token expired mid-session, 5xx, delay past the client's timeout;
3. on order endpoints only: the static-IP check and the 10 orders/s sliding window per account
   (always on; place, modify and cancel all count: ``sim.brokers.rate_window``), and the
   receive-time record.

Handlers raise ``BadInput`` / ``OrderRefused`` / ``UnknownOrder``; the dialect's refusals answer
them. Admin routes under ``/_sim/`` (no auth, ``sim.brokers.admin``) arm faults, list received
requests, tick the exchange and pin a contract's price for tests that drive the fakes from
outside. Apps and sessions (``sim.brokers.sessions``) persist next to the exchange state.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from sim.brokers.admin import admin
from sim.brokers.rate_window import SlidingWindows
from sim.brokers.refusals import Refusals
from sim.brokers.sessions import App, Session, SessionStore, next_at
from sim.brokers.wsgi import RAW_HEADERS, KeepAliveHandler, Route, json_response
from sim.exchange import SimExchange
from sim.faults import ORDER_FAULTS, Fault, FaultBook

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReceivedRequest:
    """One order request as the server saw it arrive (compare with the client's send time)."""

    dialect: str
    method: str
    path: str
    account: str | None
    monotonic_ns: int
    wall_clock: datetime
    body: str


class FakeBrokerServer:
    """Base of the dialect servers (subclasses set ``dialect`` and implement the hooks)."""

    dialect = "base"
    #: Path of the API root under the server (the SDK's base URL is host + this).
    api_prefix = ""

    def __init__(
        self,
        exchange: SimExchange,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.exchange = exchange
        self.monotonic = monotonic
        self.sleep = sleep
        self.faults = FaultBook()
        self.received: list[ReceivedRequest] = []
        state_dir = exchange.state_dir
        state_file = state_dir / f"broker-{self.dialect}.json" if state_dir is not None else None
        self.logins = SessionStore(exchange.now, state_file)
        self.refusals = self.declare_refusals()
        self._windows = SlidingWindows()
        self._lock = threading.Lock()
        self._routes = self.routes()
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.host, self.port = "127.0.0.1", 0

    # ------------------------------------------------------------- dialect hooks
    def routes(self) -> list[Route]:
        """The dialect's endpoints."""
        raise NotImplementedError

    def authenticate(self, request: Request) -> Session | None:
        """The session a request's auth header names, or None (missing, unknown, expired)."""
        raise NotImplementedError

    def declare_refusals(self) -> Refusals:
        """How the dialect words its refusals (``sim.brokers.refusals.refusals``)."""
        raise NotImplementedError

    def expiry_for(self, issued: datetime) -> datetime:
        """When a token issued at ``issued`` stops working (the broker's daily hour)."""
        return next_at(issued, 6, 0)

    def rate_limited(self, kind: str) -> bool:
        """Whether requests of ``kind`` count toward the 10/s window (most brokers: orders only)."""
        return kind == "order"

    def rate_key(self, session: Session) -> str:
        """Whose window a request fills: the account (Fyers overrides: the whole app)."""
        return session.client_id

    # ------------------------------------------------------------- public API
    @property
    def base_url(self) -> str:
        """The API root as the broker's SDK expects it."""
        return f"http://{self.host}:{self.port}{self.api_prefix}"

    @property
    def login_url_base(self) -> str:
        """Root of the browser login pages."""
        return f"http://{self.host}:{self.port}"

    @property
    def apps(self) -> dict[str, App]:
        """Registered apps by API key."""
        return self.logins.apps

    @property
    def sessions(self) -> dict[str, Session]:
        """Sessions by access token."""
        return self.logins.sessions

    def error(self, kind: str, message: str, status: int) -> Response:
        """The dialect's error reply (``Refusals.reply``)."""
        return self.refusals.reply(kind, message, status)

    def register_app(self, api_key: str, api_secret: str, client_id: str, redirect_url: str) -> App:
        """Create API credentials for ``client_id`` (and its exchange account)."""
        self.exchange.open_account(client_id)
        return self.logins.register(App(api_key, api_secret, client_id, redirect_url))

    def inject(self, account: str, fault: Fault | str, count: int = 1, **params: Any) -> None:
        """Arm a fault for ``account``: order-level ones at the exchange, HTTP ones here."""
        fault = Fault(fault)
        if fault in ORDER_FAULTS:
            self.exchange.inject(account, fault, count, **params)
        else:
            self.faults.arm(account, fault, count, **params)

    def issue_code(self, api_key: str) -> str:
        """A single-use login code for ``api_key`` (what the login page redirects with)."""
        return self.logins.issue_code(api_key)

    def redeem_code(self, code: str) -> App | None:
        """The app a live code was issued to; the code is spent either way."""
        return self.logins.redeem_code(code)

    def issue_session(self, app: App) -> Session:
        """A new access token for ``app``'s client, expiring at the broker's hour."""
        return self.logins.issue(app, self.expiry_for(self.exchange.now()))

    def session_for(self, token: str) -> Session | None:
        """A live session by token (expired ones are dropped)."""
        return self.logins.live(token)

    def open_paper_account(self, client_id: str) -> Session:
        """A paper account at the exchange and a session that needs no login (idempotent)."""
        self.exchange.open_account(client_id)
        return self.logins.paper(client_id)

    def expire_sessions(self, client_id: str) -> None:
        """Invalidate every token of ``client_id`` now (token expired mid-session)."""
        self.logins.expire(client_id)

    def raw_header(self, request: Request, name: str) -> str:
        """A header by its exact (case-insensitive) name, underscores included."""
        return request.environ.get(RAW_HEADERS, {}).get(name.lower(), "")

    # ------------------------------------------------------------- lifecycle
    def start(self, port: int = 0) -> FakeBrokerServer:
        """Serve on 127.0.0.1:``port`` (0 = any free port) in a daemon thread."""
        self._server = make_server(
            self.host, port, self, threaded=True, request_handler=KeepAliveHandler
        )
        self._server.connections = set()  # open keep-alive connections, closed by stop()
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"fake-{self.dialect}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            # idle keep-alive connections: their threads wait for a next request that must not
            # reach a stopped server (a restarted one on the same port has other state)
            for connection in list(self._server.connections):
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    # ------------------------------------------------------------- WSGI
    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        try:
            response = self.dispatch(request)
        except Exception:  # the fake must answer like a broker, never hang the client
            log.exception("fake broker handler failed", extra={"dialect": self.dialect})
            response = self.refusals.server(500, "Internal server error")
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        """Admin routes, then the dialect's, with the shared checks around them."""
        path = request.path
        if path.startswith("/_sim/"):
            return admin(self, request)
        arrived_ns, arrived_wall = time.monotonic_ns(), self.exchange.now()
        for candidate in self._routes:
            match = candidate.pattern.match(path)
            if match and candidate.method == request.method:
                return self._run(request, candidate, match.groupdict(), arrived_ns, arrived_wall)
        return self.refusals.no_route(request.method, path)

    def _run(
        self,
        request: Request,
        endpoint: Route,
        args: dict[str, str],
        arrived_ns: int,
        arrived_wall: datetime,
    ) -> Response:
        orders = endpoint.kind == "order"
        if endpoint.kind == "public":
            return self._handle(endpoint, request, None, args)
        session = self.authenticate(request)
        if orders:
            with self._lock:
                self.received.append(
                    ReceivedRequest(
                        self.dialect, request.method, request.path,
                        session.client_id if session else None, arrived_ns, arrived_wall,
                        request.get_data(as_text=True),
                    )
                )  # fmt: skip
        if session is None:
            return self.refusals.token()
        refused = self._refused(request, session, endpoint.kind)
        if refused is not None:
            return refused
        account = session.client_id
        malformed = orders and request.method == "POST"
        if malformed and self.faults.take(account, Fault.MALFORMED_REPLY) is not None:
            self._handle(endpoint, request, session, args)  # the order is taken...
            return json_response({"status": "success", "data": {}})  # ...the reply lacks its id
        return self._handle(endpoint, request, session, args)

    def _refused(self, request: Request, session: Session, kind: str) -> Response | None:
        """The shared checks after authentication, in a broker's order (None: all passed)."""
        account = session.client_id
        if self.faults.take(account, Fault.TOKEN_EXPIRED) is not None:
            self.expire_sessions(account)
            return self.refusals.token()
        failure = self.faults.take(account, Fault.SERVER_ERROR)
        if failure is not None:
            status = int(failure.get("status", 500))
            return self.refusals.server(status, "Something went wrong. Please try again.")
        delay = self.faults.take(account, Fault.TIMEOUT)
        if delay is not None:
            self.sleep(float(delay.get("delay", 5.0)))
        if kind == "order" and self.faults.take(account, Fault.IP_NOT_WHITELISTED) is not None:
            return self.refusals.ip(request.remote_addr or "127.0.0.1")
        if self.rate_limited(kind) and not self._windows.admit(
            self.rate_key(session), self.monotonic()
        ):
            return self.refusals.rate()
        return None

    def _handle(
        self, endpoint: Route, request: Request, session: Session | None, args: dict[str, str]
    ) -> Response:
        return self.refusals.guard(
            lambda: endpoint.handler(request, session, args), orders=endpoint.kind == "order"
        )
