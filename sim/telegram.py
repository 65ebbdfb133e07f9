"""A fake Telegram Bot API server on loopback, in the real dialect.

``/bot<token>/<method>`` by GET or POST (query string, form or JSON parameters); answers
``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": N, "description": "..."}``, with
``"parameters": {"retry_after": S}`` on 429. Methods: ``getMe``, ``sendMessage``, ``getUpdates``
(offset confirms, long-poll ``timeout``; 409 while a webhook is set), ``setWebhook``
(``secret_token`` sent back as ``X-Telegram-Bot-Api-Secret-Token``), ``deleteWebhook``.
A wrong token answers 401 Unauthorized; an unknown chat 400 "chat not found"; a blocked one 403.

Like Telegram, it refuses a second message to one chat within ``per_chat_interval`` seconds
(429 with the seconds left), and tests can force the next N sends to answer 429.

Test hooks (Python, or ``/_sim/...`` over HTTP for ``make run``): ``user_sends(chat_id, text)``
injects an update (``/start <code>`` to link a chat), ``messages(chat_id)`` lists what the bot
sent, ``fail_next(n, retry_after)``, ``block(chat_id)``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

_PATH = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>\w+)$")
MESSAGE_LIMIT = 4096


class _QuietHandler(WSGIRequestHandler):
    """No access log: its request lines carry the bot token (Telegram's logs are not ours)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class _Refused(Exception):
    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.retry_after = code, description, retry_after


class FakeTelegram:
    def __init__(
        self,
        token: str = "123456:TEST-token",
        username: str = "optexec_test_bot",
        per_chat_interval: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.token, self.username = token, username
        self.bot_id = int(token.split(":", 1)[0]) if ":" in token else 1
        self.per_chat_interval = per_chat_interval
        self._monotonic, self._wall = monotonic, wall
        self._lock = threading.Condition()
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1000)
        self._message_ids = itertools.count(1)
        self._sent: list[dict[str, Any]] = []
        self._last_send: dict[int, float] = {}
        self._chats: dict[int, dict[str, Any]] = {}
        self._blocked: set[int] = set()
        self._forced: list[int] = []
        self.webhook: dict[str, str] | None = None
        self.calls: list[str] = []
        self._server: Any = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self, port: int = 0) -> FakeTelegram:
        self._server = make_server(
            "127.0.0.1", port, self._wsgi, threaded=True, request_handler=_QuietHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    # -- test hooks ----------------------------------------------------------------------------
    def user_sends(self, chat_id: int, text: str, first_name: str = "Trader") -> dict[str, Any]:
        """A user writes to the bot (``/start <code>`` from the deep link): queue or POST it."""
        chat = {"id": chat_id, "first_name": first_name, "type": "private"}
        with self._lock:
            self._chats[chat_id] = chat
            update = {
                "update_id": next(self._update_ids),
                "message": {
                    "message_id": next(self._message_ids),
                    "from": {"id": chat_id, "is_bot": False, "first_name": first_name},
                    "chat": chat,
                    "date": int(self._wall()),
                    "text": text,
                    **_command_entities(text),
                },
            }
            webhook = self.webhook
            if webhook is None:
                self._updates.append(update)
                self._lock.notify_all()
        if webhook is not None:
            headers = {"X-Telegram-Bot-Api-Secret-Token": webhook.get("secret_token", "")}
            httpx.post(webhook["url"], json=update, headers=headers, timeout=5)
        return update

    def messages(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [m for m in self._sent if chat_id is None or m["chat"]["id"] == chat_id]

    def fail_next(self, count: int = 1, retry_after: int = 1) -> None:
        with self._lock:
            self._forced.extend([retry_after] * count)

    def block(self, chat_id: int) -> None:
        with self._lock:
            self._blocked.add(chat_id)

    # -- the Bot API ---------------------------------------------------------------------------
    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        return self._dispatch(request)(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        if request.path.startswith("/_sim/"):
            return self._admin(request)
        match = _PATH.match(request.path)
        if not match:
            return _reply({"ok": False, "error_code": 404, "description": "Not Found"}, 404)
        if match["token"] != self.token:
            return _reply({"ok": False, "error_code": 401, "description": "Unauthorized"}, 401)
        method = match["method"]
        handler = {
            "getMe": self._get_me,
            "sendMessage": self._send_message,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
        }.get(method)
        if handler is None:
            return _reply({"ok": False, "error_code": 404, "description": "Not Found"}, 404)
        with self._lock:
            self.calls.append(method)
        try:
            return _reply({"ok": True, "result": handler(_params(request))})
        except _Refused as refused:
            body: dict[str, Any] = {
                "ok": False, "error_code": refused.code, "description": refused.description,
            }  # fmt: skip
            if refused.retry_after is not None:
                body["parameters"] = {"retry_after": refused.retry_after}
            return _reply(body, refused.code)

    def _get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"id": self.bot_id, "is_bot": True, "first_name": "optexec",
                "username": self.username}  # fmt: skip

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        text = str(params.get("text") or "")
        try:
            chat_id = int(params.get("chat_id"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise _Refused(400, "Bad Request: chat not found") from None
        if not text.strip():
            raise _Refused(400, "Bad Request: message text is empty")
        if len(text) > MESSAGE_LIMIT:
            raise _Refused(400, "Bad Request: message is too long")
        with self._lock:
            if chat_id not in self._chats:
                raise _Refused(400, "Bad Request: chat not found")
            if chat_id in self._blocked:
                raise _Refused(403, "Forbidden: bot was blocked by the user")
            if self._forced:
                wait = self._forced.pop(0)
                raise _Refused(429, f"Too Many Requests: retry after {wait}", wait)
            now = self._monotonic()
            last = self._last_send.get(chat_id)
            if last is not None and now - last < self.per_chat_interval:
                wait = max(1, math.ceil(self.per_chat_interval - (now - last)))
                raise _Refused(429, f"Too Many Requests: retry after {wait}", wait)
            self._last_send[chat_id] = now
            message = {
                "message_id": next(self._message_ids),
                "from": {"id": self.bot_id, "is_bot": True, "first_name": "optexec",
                         "username": self.username},
                "chat": self._chats[chat_id],
                "date": int(self._wall()),
                "text": text,
            }  # fmt: skip
            self._sent.append(message)
            return message

    def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook is not None:
            raise _Refused(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        timeout = min(float(params.get("timeout") or 0), 5.0)
        deadline = time.monotonic() + timeout
        with self._lock:
            if offset:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            while not self._updates and time.monotonic() < deadline:
                self._lock.wait(deadline - time.monotonic())
            return list(self._updates[:100])

    def _set_webhook(self, params: dict[str, Any]) -> bool:
        url = str(params.get("url") or "")
        secret = str(params.get("secret_token") or "")
        if secret and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise _Refused(400, "Bad Request: secret token contains unallowed characters")
        with self._lock:
            self.webhook = {"url": url, "secret_token": secret} if url else None
        return True

    def _delete_webhook(self, params: dict[str, Any]) -> bool:
        with self._lock:
            self.webhook = None
        return True

    # -- admin over HTTP (make run) --------------------------------------------------------------
    def _admin(self, request: Request) -> Response:
        if request.path == "/_sim/updates" and request.method == "POST":
            doc = request.get_json(force=True, silent=True) or {}
            return _reply(self.user_sends(int(doc["chat_id"]), str(doc["text"])))
        if request.path == "/_sim/messages":
            chat = request.args.get("chat_id")
            return _reply(self.messages(int(chat) if chat else None))
        return _reply({"error": "unknown admin route"}, 404)


def _params(request: Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.args.items())
    if request.mimetype == "application/json":
        params.update(request.get_json(force=True, silent=True) or {})
    else:
        params.update(request.form.items())
    return params


def _command_entities(text: str) -> dict[str, Any]:
    if not text.startswith("/"):
        return {}
    length = len(text.split(" ", 1)[0])
    return {"entities": [{"offset": 0, "length": length, "type": "bot_command"}]}


def _reply(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def main(argv: list[str] | None = None) -> int:
    """Run the fake until interrupted (``python -m sim.telegram --port 8081``)."""
    parser = argparse.ArgumentParser(prog="python -m sim.telegram", description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default="123456:TEST-token")
    args = parser.parse_args(argv)
    server = FakeTelegram(token=args.token).start(args.port)
    print(f"telegram\tapi={server.base_url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
