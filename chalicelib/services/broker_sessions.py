"""Daily broker logins: the login URL with a CSRF state, the OAuth callback, manual codes (TOTP),
and readiness (which accounts can trade today, and until when).

The state sent to the broker is 32 random bytes stored server-side for ten minutes and bound to
the user and account; the callback consumes it with a conditional delete, so it is unguessable,
expiring and single-use (stronger than a signed stateless token, which could be replayed until it
expires). Access tokens are sealed with the same KMS envelope as API secrets.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.brokers import CATALOGUE, PAPER
from chalicelib.domain.calendar import IST, default_calendar
from chalicelib.domain.records import AccountRecord, SessionRecord
from chalicelib.errors import DependencyUnavailable, Unprocessable, ValidationFailed
from chalicelib.ports.accounts import SessionStore
from chalicelib.ports.broker import Credentials, Session
from chalicelib.ports.broker_errors import BrokerError, RateLimited, Unavailable
from chalicelib.ports.broker_factory import BrokerFactory
from chalicelib.ports.secrets import Cipher
from chalicelib.services.clock import Clock

log = logging.getLogger(__name__)
STATE_LIFETIME = timedelta(minutes=10)
#: A paper account on the platform's book has no broker session; this stands for "can trade".
BOOK_SESSION = timedelta(days=3650)

# The query parameter that carries the one-time code on each broker's redirect.
CODE_PARAM: Mapping[str, str] = {e.name: e.code_param for e in CATALOGUE}


@dataclass
class BrokerSessionService:
    repo: SessionStore
    cipher: Cipher
    clock: Clock
    public_api_url: str
    hosts: Mapping[str, Mapping[str, str]]
    #: Builds the broker's adapter for a login (the container's: short timeouts, two tries).
    build_broker: BrokerFactory
    paper_engine: str = "book"

    def callback_url(self, broker: str) -> str:
        return f"{self.public_api_url.rstrip('/')}/brokers/{broker}/callback"

    def _adapter(self, account: AccountRecord) -> Any:
        sealed = (
            self.cipher.open(account.secret_blob, owner=account.uid) if account.secret_blob else {}
        )
        if not sealed.get("api_key"):
            raise Unprocessable(
                "the account has no api_key: PATCH /accounts/{id} with the broker app's key and secret",
                field="api_key",
                code="missing_credentials",
            )
        extra = {k: v for k, v in sealed.items() if k not in ("api_key", "api_secret")}
        credentials = Credentials(
            api_key=sealed["api_key"],
            api_secret=sealed.get("api_secret", ""),
            client_id=account.client_id,
            redirect_url=self.callback_url(account.broker),
            extra=extra,
        )
        return self.build_broker(
            account.broker,
            credentials,
            account=account.account_id,
            hosts=self.hosts.get(account.broker),
            now=self.clock,  # session expiry counts from the platform's clock
        )

    def login_url(self, uid: str, account_id: str) -> str:
        account = self.repo.get_account(uid, account_id)
        adapter = self._adapter(account)
        state = secrets.token_urlsafe(32)
        expires = self.clock() + STATE_LIFETIME
        self.repo.create_oauth_state(
            state, uid=uid, account_id=account_id, broker=account.broker, expires=expires
        )
        with _broker_errors():
            return str(adapter.login_url(state))

    def complete_callback(
        self, broker: str, params: Mapping[str, str]
    ) -> tuple[AccountRecord, SessionRecord]:
        """Finish a browser login from the broker's redirect."""
        if broker not in CODE_PARAM:
            raise ValidationFailed(f"unknown broker {broker!r}", field="broker")
        if params.get("status", "success") not in ("success", "ok"):
            raise ValidationFailed("the broker reports the login was not completed", field="status")
        state = params.get("state", "")
        pending = self.repo.take_oauth_state(state) if state else None
        if pending is None or pending.broker != broker:
            raise ValidationFailed(
                "unknown or already used login state: start again from GET /accounts/{id}/login",
                field="state",
                code="invalid_state",
            )
        if datetime.fromisoformat(pending.expires_at) < self.clock():
            raise ValidationFailed(
                "the login took too long: start again", field="state", code="state_expired"
            )
        code = params.get(CODE_PARAM[broker], "")
        if not code:
            raise ValidationFailed(
                f"the redirect has no {CODE_PARAM[broker]}", field=CODE_PARAM[broker]
            )
        return self._store(pending.uid, pending.account_id, code)

    def complete_with_code(
        self, uid: str, account_id: str, code: str
    ) -> tuple[AccountRecord, SessionRecord]:
        """Finish a login with a code the trader enters (Angel's TOTP, a pasted request token)."""
        return self._store(uid, account_id, code)

    def _store(self, uid: str, account_id: str, code: str) -> tuple[AccountRecord, SessionRecord]:
        account = self.repo.get_account(uid, account_id)
        adapter = self._adapter(account)
        with _broker_errors():
            session: Session = adapter.exchange_code(code)
        return account, self._keep(uid, account, session)

    def open_paper(self, account: AccountRecord) -> SessionRecord | None:
        """A paper account trades at once: the simulator opens its exchange account and a
        session; there is no broker app, no credentials and no daily login. On the platform's
        own book (``paper_engine == "book"``) without a simulator (AWS), there is nothing to
        open: a long-lived session marks the account tradeable and its quote source prices it.
        None when the simulator engine is chosen but not configured (the account waits)."""
        if account.broker != PAPER.name:
            raise ValidationFailed("only paper accounts open without a login", field="broker")
        if PAPER.name not in self.hosts and self.paper_engine == "book":
            now = self.clock().astimezone(IST)
            book = Session(PAPER.name, "book", now + BOOK_SESSION, user_id=account.client_id)
            return self._keep(account.uid, account, book)
        if PAPER.name not in self.hosts:
            log.warning("no paper simulator configured", extra={"account": account.account_id})
            return None
        try:
            adapter = self.build_broker(
                PAPER.name,
                Credentials(api_key="", api_secret="", client_id=account.client_id),
                account=account.account_id,
                hosts=self.hosts.get(PAPER.name),
                now=self.clock,
            )
        except ValueError as error:
            raise Unprocessable(
                f"paper trading needs the simulator's URL (BROKER_HOSTS.paper): {error}",
                field="broker",
                code="paper_unavailable",
            ) from error
        with _broker_errors():
            # one exchange account per platform account: two users' "P1" never share positions
            session: Session = adapter.open_account(account.account_id)
        return self._keep(account.uid, account, session)

    def _keep(self, uid: str, account: AccountRecord, session: Session) -> SessionRecord:
        account_id = account.account_id
        sealed = self.cipher.seal(
            {"access_token": session.access_token, "user_id": session.user_id, **session.extra},
            owner=uid,
        )
        item = self.repo.store_session(
            uid, account_id, broker=account.broker, sealed=sealed, expires=session.expires_at
        )
        log.info("broker session stored", extra={"account": account_id, "broker": account.broker})
        return item

    def readiness(self, uid: str) -> list[dict[str, Any]]:
        accounts = self.repo.list_accounts(uid)
        sessions = self.repo.sessions_of(uid)
        now = self.clock()
        return [readiness_of(a, sessions.get(a.account_id), now) for a in accounts]


def session_view(item: SessionRecord | None, now: datetime) -> dict[str, Any]:
    if item is None:
        return {"status": "NONE", "expires_at": None}
    expires = datetime.fromisoformat(item.expires_at)
    return {"status": "VALID" if now < expires else "EXPIRED", "expires_at": expires.isoformat()}


def readiness_of(
    account: AccountRecord, session: SessionRecord | None, now: datetime
) -> dict[str, Any]:
    """Usable today = a session valid now that outlives today's F&O close."""
    view = session_view(session, now)
    calendar = default_calendar()
    today = now.astimezone(IST).date()
    trading = calendar.is_trading_day(today)
    close = datetime.combine(today, calendar.fo_session_bounds(today)[1], tzinfo=IST)
    usable = view["status"] == "VALID" and datetime.fromisoformat(view["expires_at"]) >= close
    reason = None
    if not usable:
        reason = {
            "NONE": "never logged in: GET /accounts/{id}/login",
            "EXPIRED": "the session expired: log in again today",
        }.get(view["status"], "the session ends before today's close: log in again")
    return {
        "account_id": account.account_id,
        "broker": account.broker,
        "label": account.label,
        "session": view,
        "trading_day": trading,
        "usable_today": usable,
        "until": view["expires_at"] if usable else None,
        "action": reason,
    }


@contextmanager
def _broker_errors() -> Iterator[None]:
    """Broker failures during login become clear API errors, never a 500."""
    try:
        yield
    except (Unavailable, RateLimited) as error:
        raise DependencyUnavailable(
            f"the broker is unavailable: {error}", code="broker_unavailable"
        ) from error
    except BrokerError as error:
        raise Unprocessable(
            f"the broker refused the login: {error}", code="broker_login_failed"
        ) from error
