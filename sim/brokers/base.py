"""What every fake broker server shares: routing, sessions, faults, rate limit, request log.

A dialect subclass declares its routes and says how it authenticates a request and words an
error; this base runs the WSGI app (werkzeug, threaded, 127.0.0.1 only) and applies, in the
order a real broker does, the checks that are not dialect-specific:

1. authentication (the dialect's header) and token expiry at the broker's hour;
2. injected HTTP faults: token expired mid-session, 5xx, delay past the client's timeout;
3. on order endpoints only: the static-IP check and the 10 orders/s sliding window per account
   (always on; place, modify and cancel all count), and the receive-time record.

Admin routes under ``/_sim/`` (no auth) arm faults, list received requests, tick the exchange
and pin a contract's price (``POST /_sim/price``) for tests that drive the fakes from outside.

Sessions and registered apps are persisted next to the exchange state, so a restarted paper
setup keeps its daily login.
"""

from __future__ import annotations

import collections
import contextlib
import io
import json
import logging
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from chalicelib.domain.calendar import IST
from sim.errors import OrderRefused
from sim.exchange import SimExchange
from sim.faults import ORDER_FAULTS, Fault, FaultBook
from sim.persistence import read_json, write_json_atomic

log = logging.getLogger(__name__)

#: Order requests per account allowed in any sliding window of this many seconds.
RATE_LIMIT, RATE_WINDOW = 10, 1.0
#: How long a login code may wait before the token exchange.
CODE_TTL = timedelta(minutes=5)
#: The API key paper sessions carry: a paper account has no broker app and no daily login.
PAPER_API_KEY = "paper"
#: How long a paper session lasts: for good, as far as a trader can tell.
PAPER_SESSION = timedelta(days=3650)

#: WSGI environ key holding the request headers as received (lower-cased names).
RAW_HEADERS = "sim.raw_headers"

Handler = Callable[[Request, "Session | None", dict[str, str]], Response]


@dataclass(frozen=True, slots=True)
class App:
    """A registered API app: its key, secret, the client it logs in, and where to redirect."""

    api_key: str
    api_secret: str
    client_id: str
    redirect_url: str


@dataclass(frozen=True, slots=True)
class Session:
    """A logged-in access token."""

    token: str
    api_key: str
    client_id: str
    expires_at: datetime


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


@dataclass(frozen=True, slots=True)
class Route:
    """One endpoint: method, path pattern (``{name}`` captures), handler and kind."""

    method: str
    pattern: re.Pattern[str]
    handler: Handler
    kind: str  # "public" (no auth), "read", "order" (IP check, rate limit, receive log)


def route(method: str, path: str, handler: Handler, kind: str = "read") -> Route:
    """Build a ``Route``; ``{name}`` in ``path`` matches one path segment."""
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path)
    return Route(method, re.compile(f"^{regex}$"), handler, kind)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON reply."""
    return Response(
        json.dumps(body, default=str), status=status, mimetype="application/json", headers=headers
    )


def redirect(url: str, params: dict[str, str]) -> Response:
    """302 to ``url`` with ``params`` appended to its query string."""
    joiner = "&" if "?" in url else "?"
    return Response(status=302, headers={"Location": f"{url}{joiner}{urlencode(params)}"})


class _QuietHandler(WSGIRequestHandler):
    """HTTP/1.1 with keep-alive, as a broker's gateway speaks; no access log lines on stderr.

    werkzeug's own ``run_wsgi`` answers ``Connection: close`` to every request whatever the
    protocol version, so every order would pay a TCP connect and a new server thread, which no
    real broker's keep-alive gateway costs a client. Turning keep-alive on there is not enough:
    after each response it drains the socket with ``rfile.read(10_000_000)``, which on a kept
    connection swallows (or blocks on) the client's next request. Here the request body is read
    in full before the app runs, and every response carries its Content-Length, so the next
    request line is where ``handle()`` expects it.
    """

    protocol_version = "HTTP/1.1"
    #: Headers and body leave in two writes: without TCP_NODELAY the body waits for the client's
    #: delayed ACK of the headers (~40 ms on Linux) once the connection is kept open.
    disable_nagle_algorithm = True

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None

    def setup(self) -> None:
        super().setup()
        self.server.connections.add(self.connection)  # type: ignore[attr-defined]

    def finish(self) -> None:
        self.server.connections.discard(self.connection)  # type: ignore[attr-defined]
        super().finish()

    def run_wsgi(self) -> None:
        if self.headers.get("Expect", "").lower().strip(" \t") == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        environ = self.environ = self.make_environ()
        if environ.pop("wsgi.input_terminated", False):  # chunked: DechunkedInput stops at the end
            body = environ["wsgi.input"].read()
        else:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = self.rfile.read(length) if length > 0 else b""
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        started: list[Any] = []
        chunks: list[bytes] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            started[:] = [status, headers]
            return chunks.append

        result = self.server.app(environ, start_response)
        try:
            chunks.extend(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        status, headers = started
        code, _, reason = status.partition(" ")
        payload = b"".join(chunks)
        self.send_response(int(code), reason)
        for name, value in headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:  # HTTP/1.0 or "Connection: close" from the client
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
        self.wfile.flush()

    def make_environ(self) -> dict[str, Any]:
        """Keep the raw headers too: werkzeug drops names with underscores (Dhan's app_id)."""
        environ = super().make_environ()
        environ[RAW_HEADERS] = {k.lower(): v for k, v in self.headers.items()}
        return environ


class FakeBrokerServer:
    """Base of the dialect servers (subclasses set ``dialect`` and implement the hooks)."""

    dialect = "base"
    #: HTTP status of an invalid / expired token (Kite 403, Dhan 401, ...).
    token_status = 403
    token_message = "Incorrect `api_key` or `access_token`."
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
        self.apps: dict[str, App] = {}
        self.sessions: dict[str, Session] = {}
        self._codes: dict[str, tuple[str, datetime]] = {}
        self._windows: dict[str, collections.deque[float]] = collections.defaultdict(
            collections.deque
        )
        self._lock = threading.RLock()
        self._routes = self.routes()
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.host, self.port = "127.0.0.1", 0
        self._load()

    # ------------------------------------------------------------- dialect hooks
    def routes(self) -> list[Route]:
        """The dialect's endpoints."""
        raise NotImplementedError

    def authenticate(self, request: Request) -> Session | None:
        """The session a request's auth header names, or None (missing, unknown, expired)."""
        raise NotImplementedError

    def error(self, kind: str, message: str, status: int) -> Response:
        """The dialect's error body; ``kind`` is token|ip|rate|server|input|order|not_found."""
        raise NotImplementedError

    def expiry_for(self, issued: datetime) -> datetime:
        """When a token issued at ``issued`` stops working (the broker's daily hour)."""
        return next_at(issued, 6, 0)

    # ------------------------------------------------------------- public API
    @property
    def base_url(self) -> str:
        """The API root as the broker's SDK expects it."""
        return f"http://{self.host}:{self.port}{self.api_prefix}"

    @property
    def login_url_base(self) -> str:
        """Root of the browser login pages."""
        return f"http://{self.host}:{self.port}"

    def register_app(self, api_key: str, api_secret: str, client_id: str, redirect_url: str) -> App:
        """Create API credentials for ``client_id`` (and its exchange account)."""
        app = App(api_key, api_secret, client_id, redirect_url)
        with self._lock:
            self.apps[api_key] = app
            self.exchange.open_account(client_id)
            self._save()
        return app

    def inject(self, account: str, fault: Fault | str, count: int = 1, **params: Any) -> None:
        """Arm a fault for ``account``: order-level ones at the exchange, HTTP ones here."""
        fault = Fault(fault)
        if fault in ORDER_FAULTS:
            self.exchange.inject(account, fault, count, **params)
        else:
            self.faults.arm(account, fault, count, **params)

    def issue_code(self, api_key: str) -> str:
        """A single-use login code for ``api_key`` (what the login page redirects with)."""
        code = secrets.token_urlsafe(16)
        with self._lock:
            self._codes[code] = (api_key, self.exchange.now() + CODE_TTL)
        return code

    def redeem_code(self, code: str) -> App | None:
        """The app a live code was issued to; the code is spent either way."""
        with self._lock:
            entry = self._codes.pop(code, None)
        if entry is None or entry[1] < self.exchange.now():
            return None
        return self.apps.get(entry[0])

    def issue_session(self, app: App) -> Session:
        """A new access token for ``app``'s client, expiring at the broker's hour."""
        now = self.exchange.now()
        session = Session(secrets.token_hex(16), app.api_key, app.client_id, self.expiry_for(now))
        with self._lock:
            self.sessions[session.token] = session
            self._save()
        return session

    def session_for(self, token: str) -> Session | None:
        """A live session by token (expired ones are dropped)."""
        session = self.sessions.get(token)
        if session is None:
            return None
        if session.expires_at <= self.exchange.now():
            with self._lock:
                self.sessions.pop(token, None)
            return None
        return session

    def open_paper_account(self, client_id: str) -> Session:
        """A paper account at the exchange and a session that needs no login (idempotent)."""
        now = self.exchange.now()
        with self._lock:
            self.exchange.open_account(client_id)
            for session in self.sessions.values():
                live = session.expires_at > now + timedelta(days=1)
                if session.client_id == client_id and session.api_key == PAPER_API_KEY and live:
                    return session
            session = Session(secrets.token_hex(16), PAPER_API_KEY, client_id, now + PAPER_SESSION)
            self.sessions[session.token] = session
            self._save()
        return session

    def expire_sessions(self, client_id: str) -> None:
        """Invalidate every token of ``client_id`` now (token expired mid-session)."""
        with self._lock:
            for token in [t for t, s in self.sessions.items() if s.client_id == client_id]:
                del self.sessions[token]
            self._save()

    # ------------------------------------------------------------- lifecycle
    def start(self, port: int = 0) -> FakeBrokerServer:
        """Serve on 127.0.0.1:``port`` (0 = any free port) in a daemon thread."""
        self._server = make_server(
            self.host, port, self, threaded=True, request_handler=_QuietHandler
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
            response = self.error("server", "Internal server error", 500)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        """Admin routes, then the dialect's, with the shared checks around them."""
        path = request.path
        if path.startswith("/_sim/"):
            return self._admin(request)
        arrived_ns, arrived_wall = time.monotonic_ns(), self.exchange.now()
        for candidate in self._routes:
            match = candidate.pattern.match(path)
            if match and candidate.method == request.method:
                return self._run(request, candidate, match.groupdict(), arrived_ns, arrived_wall)
        return self.error("not_found", f"Route not found: {request.method} {path}", 404)

    def _run(
        self,
        request: Request,
        endpoint: Route,
        args: dict[str, str],
        arrived_ns: int,
        arrived_wall: datetime,
    ) -> Response:
        if endpoint.kind == "public":
            return endpoint.handler(request, None, args)
        session = self.authenticate(request)
        if endpoint.kind == "order":
            with self._lock:
                self.received.append(
                    ReceivedRequest(
                        self.dialect, request.method, request.path,
                        session.client_id if session else None, arrived_ns, arrived_wall,
                        request.get_data(as_text=True),
                    )
                )  # fmt: skip
        if session is None:
            return self.error("token", self.token_message, self.token_status)
        account = session.client_id
        if self.faults.take(account, Fault.TOKEN_EXPIRED) is not None:
            self.expire_sessions(account)
            return self.error("token", self.token_message, self.token_status)
        failure = self.faults.take(account, Fault.SERVER_ERROR)
        if failure is not None:
            status = int(failure.get("status", 500))
            return self.error("server", "Something went wrong. Please try again.", status)
        delay = self.faults.take(account, Fault.TIMEOUT)
        if delay is not None:
            self.sleep(float(delay.get("delay", 5.0)))
        if endpoint.kind == "order" and (
            self.faults.take(account, Fault.IP_NOT_WHITELISTED) is not None
        ):
            return self.ip_error(request)
        if self.rate_limited(endpoint.kind) and not self._admit_rate(self.rate_key(session)):
            return self.error("rate", "Too many requests", 429)
        if (
            endpoint.kind == "order"
            and request.method == "POST"
            and (self.faults.take(account, Fault.MALFORMED_REPLY) is not None)
        ):
            endpoint.handler(request, session, args)  # the order is taken...
            return json_response({"status": "success", "data": {}})  # ...the reply lacks its id
        return endpoint.handler(request, session, args)

    def rate_limited(self, kind: str) -> bool:
        """Whether requests of ``kind`` count toward the 10/s window (most brokers: orders only)."""
        return kind == "order"

    def rate_key(self, session: Session) -> str:
        """Whose window a request fills: the account (Fyers overrides: the whole app)."""
        return session.client_id

    def raw_header(self, request: Request, name: str) -> str:
        """A header by its exact (case-insensitive) name, underscores included."""
        return request.environ.get(RAW_HEADERS, {}).get(name.lower(), "")

    def ip_error(self, request: Request) -> Response:
        """The broker's static-IP refusal (overridable when a dialect words it differently)."""
        ip = request.remote_addr or "127.0.0.1"
        return self.error(
            "ip", f"Orders are only allowed from registered static IPs. Your IP: {ip}", 403
        )

    def _admit_rate(self, account: str) -> bool:
        """Sliding window: at most RATE_LIMIT admitted order requests in any RATE_WINDOW."""
        now = self.monotonic()
        with self._lock:
            window = self._windows[account]
            while window and now - window[0] >= RATE_WINDOW:
                window.popleft()
            if len(window) >= RATE_LIMIT:
                return False
            window.append(now)
            return True

    def _admin(self, request: Request) -> Response:
        path = request.path
        if path == "/_sim/faults" and request.method == "POST":
            body = request.get_json(force=True)
            params = {k: v for k, v in body.items() if k not in ("account", "fault", "count")}
            try:
                self.inject(body["account"], body["fault"], int(body.get("count", 1)), **params)
            except (KeyError, ValueError) as exc:
                return json_response({"error": str(exc)}, 400)
            return json_response({"armed": body["fault"], "account": body["account"]})
        if path == "/_sim/received" and request.method == "GET":
            return json_response([asdict(r) for r in self.received])
        if path == "/_sim/tick" and request.method == "POST":
            self.exchange.tick()
            return json_response({"ok": True, "at": self.exchange.now().isoformat()})
        if path == "/_sim/price" and request.method == "POST":
            return self._admin_price(request)
        if path == "/_sim/paper/accounts" and request.method == "POST":
            body = request.get_json(force=True, silent=True)
            if not isinstance(body, dict) or not str(body.get("client_id") or ""):
                return json_response({"error": "a JSON body with client_id is required"}, 400)
            session = self.open_paper_account(str(body["client_id"]))
            return json_response(
                {
                    "access_token": session.token,
                    "api_key": session.api_key,
                    "user_id": session.client_id,
                    "expires_at": session.expires_at.isoformat(),
                }
            )
        if path == "/_sim/apps" and request.method == "POST":
            body = request.get_json(force=True)
            app = self.register_app(
                body["api_key"], body["api_secret"], body["client_id"], body["redirect_url"]
            )
            return json_response(asdict(app))
        return json_response({"error": "unknown admin route"}, 404)

    def _admin_price(self, request: Request) -> Response:
        """``{"instrument": <any listed name or token>, "price": "105.10" | null}``: pin / release."""
        body = request.get_json(force=True, silent=True)
        if not isinstance(body, dict):
            return json_response({"error": "a JSON object body is required"}, 400)
        try:
            instrument = self.exchange.resolve(str(body["instrument"]))
            price = body.get("price")
            ltp = self.exchange.set_price(
                instrument.key, None if price is None else Decimal(str(price))
            )
        except OrderRefused as exc:
            return json_response({"error": exc.message}, 400)
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            return json_response({"error": str(exc)}, 400)
        pinned = instrument.key in self.exchange.pins()
        return json_response({"instrument": body["instrument"], "ltp": str(ltp), "pinned": pinned})

    # ------------------------------------------------------------- persistence
    @property
    def _state_file(self) -> Path | None:
        state_dir = self.exchange.state_dir
        return state_dir / f"broker-{self.dialect}.json" if state_dir is not None else None

    def _save(self) -> None:
        if self._state_file is None:
            return
        write_json_atomic(
            self._state_file,
            {
                "apps": [asdict(a) for a in self.apps.values()],
                "sessions": [
                    {**asdict(s), "expires_at": s.expires_at.isoformat()}
                    for s in self.sessions.values()
                ],
            },
        )

    def _load(self) -> None:
        if self._state_file is None:
            return
        doc = read_json(self._state_file)
        if doc is None:
            return
        self.apps = {a["api_key"]: App(**a) for a in doc["apps"]}
        for s in doc["sessions"]:
            session = Session(
                s["token"], s["api_key"], s["client_id"], datetime.fromisoformat(s["expires_at"])
            )
            self.sessions[session.token] = session


def next_at(issued: datetime, hour: int, minute: int) -> datetime:
    """The first IST ``hour:minute`` strictly after ``issued`` (a broker's daily token expiry)."""
    local = issued.astimezone(IST)
    candidate = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if candidate <= local:
        candidate += timedelta(days=1)
    return candidate
