"""Who may call a fake broker: registered apps, single-use login codes and access tokens.

One ``SessionStore`` per fake server. It is persisted next to the exchange state (apps and
sessions; codes live five minutes and are not worth keeping), so a restarted paper setup keeps
its daily login. Expiry hours are the dialect's (``FakeBrokerServer.expiry_for``).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from chalicelib.domain.calendar import IST
from sim.persistence import read_json, write_json_atomic

#: How long a login code may wait before the token exchange.
CODE_TTL = timedelta(minutes=5)
#: The API key paper sessions carry: a paper account has no broker app and no daily login.
PAPER_API_KEY = "paper"
#: How long a paper session lasts: for good, as far as a trader can tell.
PAPER_SESSION = timedelta(days=3650)


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

    def to_json(self) -> dict[str, str]:
        """State file form."""
        return {**asdict(self), "expires_at": self.expires_at.isoformat()}

    @classmethod
    def from_json(cls, doc: dict[str, str]) -> Session:
        """Inverse of ``to_json``."""
        expires_at = datetime.fromisoformat(doc["expires_at"])
        return cls(doc["token"], doc["api_key"], doc["client_id"], expires_at)


@dataclass(frozen=True, slots=True)
class LoginCode:
    """A single-use code a login page redirects with, until its token exchange."""

    api_key: str
    expires_at: datetime


class SessionStore:
    """Apps, codes and sessions of one fake server, with the state file they persist to."""

    def __init__(self, now: Callable[[], datetime], state_file: Path | None) -> None:
        self.now = now
        self.state_file = state_file
        self.apps: dict[str, App] = {}
        self.sessions: dict[str, Session] = {}
        self.codes: dict[str, LoginCode] = {}
        self._lock = threading.RLock()
        self._load()

    def register(self, app: App) -> App:
        """Add (or replace) an app."""
        with self._lock:
            self.apps[app.api_key] = app
            self._save()
        return app

    def issue_code(self, api_key: str) -> str:
        """A single-use login code for ``api_key``."""
        code = secrets.token_urlsafe(16)
        with self._lock:
            self.codes[code] = LoginCode(api_key, self.now() + CODE_TTL)
        return code

    def redeem_code(self, code: str) -> App | None:
        """The app a live code was issued to; the code is spent either way."""
        with self._lock:
            entry = self.codes.pop(code, None)
        if entry is None or entry.expires_at < self.now():
            return None
        return self.apps.get(entry.api_key)

    def issue(self, app: App, expires_at: datetime) -> Session:
        """A new access token for ``app``'s client."""
        session = Session(secrets.token_hex(16), app.api_key, app.client_id, expires_at)
        with self._lock:
            self.sessions[session.token] = session
            self._save()
        return session

    def live(self, token: str) -> Session | None:
        """A live session by token (expired ones are dropped)."""
        session = self.sessions.get(token)
        if session is None:
            return None
        if session.expires_at <= self.now():
            with self._lock:
                self.sessions.pop(token, None)
            return None
        return session

    def paper(self, client_id: str) -> Session:
        """The paper session of ``client_id``, opened if it has none with a day left."""
        now = self.now()
        with self._lock:
            for session in self.sessions.values():
                live = session.expires_at > now + timedelta(days=1)
                if session.client_id == client_id and session.api_key == PAPER_API_KEY and live:
                    return session
            session = Session(secrets.token_hex(16), PAPER_API_KEY, client_id, now + PAPER_SESSION)
            self.sessions[session.token] = session
            self._save()
        return session

    def expire(self, client_id: str) -> None:
        """Invalidate every token of ``client_id`` now."""
        with self._lock:
            for token in [t for t, s in self.sessions.items() if s.client_id == client_id]:
                del self.sessions[token]
            self._save()

    def _save(self) -> None:
        if self.state_file is None:
            return
        write_json_atomic(
            self.state_file,
            {
                "apps": [asdict(a) for a in self.apps.values()],
                "sessions": [s.to_json() for s in self.sessions.values()],
            },
        )

    def _load(self) -> None:
        if self.state_file is None:
            return
        doc: dict[str, Any] | None = read_json(self.state_file)
        if doc is None:
            return
        self.apps = {a["api_key"]: App(**a) for a in doc["apps"]}
        for s in doc["sessions"]:
            session = Session.from_json(s)
            self.sessions[session.token] = session


def next_at(issued: datetime, hour: int, minute: int) -> datetime:
    """The first IST ``hour:minute`` strictly after ``issued`` (a broker's daily token expiry)."""
    local = issued.astimezone(IST)
    candidate = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if candidate <= local:
        candidate += timedelta(days=1)
    return candidate
