"""The web app for `make run`: built on first use, served on its own port with the API behind it.

`ensure_built` runs `npm ci` (when node_modules is missing or older than the lock file) and
`npm run build` (when web/dist is missing or older than any source) before the stack starts.
`WebServer` serves web/dist, writes `/config.json` (the runtime configuration: the bundle has none
baked in) and proxies `/api/*` to the API, so the app and the API share one origin locally and
no CORS is needed. On AWS the same bundle is served from S3 behind CloudFront.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "web"
DIST = WEB / "dist"
# What the build depends on: a newer file than dist/index.html means a rebuild.
SOURCES = ("src", "index.html", "package.json", "package-lock.json", "vite.config.ts",
           "tsconfig.json")  # fmt: skip
API_SOURCES = (ROOT / "chalicelib" / "api",)  # the OpenAPI document the types come from
PROXY_TIMEOUT = 60.0
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "upgrade", "host", "content-length"}


def _newest(paths: list[Path]) -> float:
    newest = 0.0
    for path in paths:
        if path.is_file():
            newest = max(newest, path.stat().st_mtime)
        elif path.is_dir():
            newest = max([newest, *(p.stat().st_mtime for p in path.rglob("*") if p.is_file())])
    return newest


def stale(web: Path = WEB) -> bool:
    """web/dist is missing or older than a source of the app or of the API's contract."""
    built = web / "dist" / "index.html"
    if not built.exists():
        return True
    sources = [web / name for name in SOURCES] + list(API_SOURCES)
    return _newest(sources) > built.stat().st_mtime


def ensure_built(say: Callable[[str], None], web: Path = WEB) -> bool:
    """Build the app when needed; False (with why) when npm is missing or the build failed."""
    npm = shutil.which("npm")
    if npm is None:
        say("web app: npm not found (install Node.js 20+): the API runs without the web app")
        return (web / "dist" / "index.html").exists()
    modules = web / "node_modules" / ".package-lock.json"
    steps = []
    if (
        not modules.exists()
        or modules.stat().st_mtime < (web / "package-lock.json").stat().st_mtime
    ):
        steps.append([npm, "ci", "--no-audit", "--no-fund"])
    if steps or stale(web):
        steps += [[npm, "run", "openapi"], [npm, "run", "build"]]
    for command in steps:
        say(f"web app: {' '.join(command[1:])} ...")
        done = subprocess.run(command, cwd=web, capture_output=True, text=True)
        if done.returncode != 0:
            say(
                f"web app: `{' '.join(command[1:])}` failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
            )
            return False
    return True


def runtime_config(
    api_url: str, stage: str, outputs: dict[str, Any], region: str
) -> dict[str, str]:
    """What the app reads from /config.json: where the API is and which Cognito pool it uses."""
    return {
        "apiUrl": api_url,
        "stage": stage,
        "region": region,
        "userPoolId": str(outputs.get("user_pool_id", "")),
        "userPoolClientId": str(outputs.get("user_pool_client_id", "")),
    }


class WebServer:
    """web/dist on 127.0.0.1:port, /config.json, and /api/* proxied to the API."""

    def __init__(self, port: int, api_port: int, config: dict[str, str], dist: Path = DIST) -> None:
        self.port = port
        handler = _handler(dist, f"http://127.0.0.1:{api_port}", json.dumps(config).encode())
        self.server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]  # the one bound when 0 asked for any
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> WebServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """The proxy hands a redirect to the browser instead of following it."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def _handler(dist: Path, api: str, config: bytes) -> type[SimpleHTTPRequestHandler]:
    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(dist), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:  # quiet: the API logs requests
            pass

        def end_headers(self) -> None:
            if not self.path.startswith("/api/"):
                self.send_header("X-Content-Type-Options", "nosniff")
                self.send_header("Referrer-Policy", "no-referrer")
                if not self.path.startswith("/assets/"):
                    self.send_header("Cache-Control", "no-store")
            super().end_headers()

        def do_GET(self) -> None:
            if self.path.startswith("/api/"):
                return self._proxy()
            if self.path.split("?")[0] == "/config.json":
                return self._send(200, config, "application/json")
            if not (dist / self.path.lstrip("/").split("?")[0]).is_file():
                self.path = "/index.html"  # the app routes in the hash; anything else is the app
            return super().do_GET()

        def do_POST(self) -> None:
            self._proxy()

        do_PUT = do_PATCH = do_DELETE = do_POST

        def _send(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _proxy(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
            request = urllib.request.Request(
                api + self.path[len("/api") :], data=body, headers=headers, method=self.command
            )
            try:
                with _OPENER.open(request, timeout=PROXY_TIMEOUT) as answer:
                    status, payload, reply = answer.status, answer.read(), answer.headers
            except urllib.error.HTTPError as error:
                status, payload, reply = error.code, error.read(), error.headers
            except (urllib.error.URLError, OSError):
                failure = {"error": {"code": "unavailable", "message": "the API is not answering",
                                     "field": None}}  # fmt: skip
                return self._send(503, json.dumps(failure).encode(), "application/json")
            self.send_response(status)
            for key, value in reply.items():
                if key.lower() not in HOP_HEADERS and not key.lower().startswith("access-control"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler
