"""The web app's local server (localdev/webapp.py): the bundle, /config.json, /api/* proxied to
the API over real loopback HTTP (redirects handed to the browser, errors passed through), and the
staleness rule that decides a rebuild."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from localdev import webapp


class _FakeApi(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path.startswith("/brokers/"):
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.1:1/#/accounts?login=ok")
            self.end_headers()
            return
        body = json.dumps({"path": self.path, "auth": self.headers.get("Authorization")})
        self._send(200, body.encode())

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        self._send(400, json.dumps({"error": {"echo": body.decode()}}).encode())

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>app</title>")
    (dist / "assets" / "app.js").write_text("console.log(1)")
    api = ThreadingHTTPServer(("127.0.0.1", 0), _FakeApi)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    config = {"apiUrl": "/api", "stage": "local"}
    web = webapp.WebServer(0, api.server_address[1], config, dist=dist).start()
    try:
        yield web.url
    finally:
        web.stop()
        api.shutdown()
        api.server_close()


def test_serves_the_bundle_config_and_the_app_for_any_path(served: str) -> None:
    assert httpx.get(f"{served}/config.json").json() == {"apiUrl": "/api", "stage": "local"}
    assert httpx.get(f"{served}/assets/app.js").text == "console.log(1)"
    page = httpx.get(f"{served}/accounts")
    assert page.status_code == 200 and "<title>app</title>" in page.text
    assert page.headers["Cache-Control"] == "no-store"


def test_proxies_the_api_on_the_same_origin(served: str) -> None:
    answer = httpx.get(f"{served}/api/health?x=1", headers={"Authorization": "Bearer t"})
    assert answer.json() == {"path": "/health?x=1", "auth": "Bearer t"}
    assert "access-control-allow-origin" not in answer.headers  # same origin: no CORS
    refused = httpx.post(f"{served}/api/auth/login", content=b'{"a": 1}')
    assert refused.status_code == 400 and refused.json() == {"error": {"echo": '{"a": 1}'}}
    redirect = httpx.get(f"{served}/api/brokers/zerodha/callback", follow_redirects=False)
    assert redirect.status_code == 302  # handed to the browser, not followed by the proxy


def test_an_api_that_is_down_is_a_503_in_the_error_envelope(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("x")
    with ThreadingHTTPServer(("127.0.0.1", 0), _FakeApi) as probe:
        dead_port = probe.server_address[1]  # closed when the block ends: nothing listens
    web = webapp.WebServer(0, dead_port, {}, dist=tmp_path).start()
    try:
        answer = httpx.get(f"{web.url}/api/health")
        assert answer.status_code == 503 and answer.json()["error"]["code"] == "unavailable"
    finally:
        web.stop()


def test_a_source_newer_than_the_build_makes_it_stale(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    source = tmp_path / "src" / "main.tsx"
    source.write_text("x")
    assert webapp.stale(tmp_path)  # never built
    (tmp_path / "dist").mkdir()
    built = tmp_path / "dist" / "index.html"
    built.write_text("x")
    api_newest = max(p.stat().st_mtime for p in webapp.API_SOURCES[0].rglob("*.py"))
    os.utime(source, (api_newest - 10, api_newest - 10))
    os.utime(built, (api_newest + 10, api_newest + 10))
    assert not webapp.stale(tmp_path)
    os.utime(source, (api_newest + 20, api_newest + 20))
    assert webapp.stale(tmp_path)
