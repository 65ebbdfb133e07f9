"""HTTP plumbing the fake broker servers share: routes, JSON and redirect replies, and the
keep-alive request handler werkzeug's server runs them with."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from werkzeug.serving import WSGIRequestHandler
from werkzeug.wrappers import Request, Response

if TYPE_CHECKING:
    from sim.brokers.sessions import Session

#: WSGI environ key holding the request headers as received (lower-cased names).
RAW_HEADERS = "sim.raw_headers"

Handler = Callable[[Request, "Session | None", dict[str, str]], Response]


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


class KeepAliveHandler(WSGIRequestHandler):
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
