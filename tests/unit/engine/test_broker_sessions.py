"""Daily broker logins over the in-memory stores: a login state works once, for its own broker,
within its lifetime; the session is sealed for its owner; readiness and broker access read it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.calendar import IST
from chalicelib.errors import Unprocessable, ValidationFailed
from chalicelib.ports.broker import Credentials, Session
from chalicelib.ports.broker_errors import Unavailable
from chalicelib.services.broker_access import BrokerAccess, SessionUnavailable
from chalicelib.services.broker_sessions import STATE_LIFETIME, BrokerSessionService
from tests.fakes.accounts import FakeCipher, MemoryAccounts

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=IST)  # a Wednesday, a trading day
UID = "u1"


class LoginBroker:
    """A broker's login half: the URL carries the state; a code yields tomorrow 06:00's session."""

    def __init__(self, name: str, credentials: Credentials, fail: bool = False) -> None:
        self.name, self.credentials, self.fail = name, credentials, fail
        self.session: Session | None = None

    def login_url(self, state: str) -> str:
        return f"https://{self.name}.example/login?state={state}"

    def exchange_code(self, code: str) -> Session:
        if self.fail:
            raise Unavailable("the broker is down", broker=self.name)
        expires = datetime.combine(NOW.date() + timedelta(days=1), datetime.min.time(), IST)
        return Session(self.name, f"token-for-{code}", expires + timedelta(hours=6), "U1")

    def with_session(self, session: Session) -> LoginBroker:
        self.session = session
        return self


class Rig:
    def __init__(self) -> None:
        self.now = NOW
        self.store = MemoryAccounts(clock=lambda: self.now)
        self.built: list[dict[str, Any]] = []
        self.fail = False
        self.sessions = BrokerSessionService(
            repo=self.store, cipher=FakeCipher(), clock=lambda: self.now,
            public_api_url="https://api.example/", hosts={}, build_broker=self.build,
        )  # fmt: skip
        self.account = self.store.create_account(
            UID, "A1", broker="zerodha", client_id="ZX1", label="main", static_ip_note=None,
            secret_blob=FakeCipher().seal({"api_key": "k", "api_secret": "s"}, owner=UID),
            quote_account_id=None,
        )  # fmt: skip

    def build(self, broker: str, credentials: Credentials, **kwargs: Any) -> LoginBroker:
        self.built.append({"broker": broker, "credentials": credentials, **kwargs})
        return LoginBroker(broker, credentials, fail=self.fail)

    def start(self) -> str:
        url = self.sessions.login_url(UID, "A1")
        return url.split("state=", 1)[1]


@pytest.fixture
def rig() -> Rig:
    return Rig()


def test_a_login_state_works_once(rig):
    state = rig.start()
    assert (
        rig.built[0]["credentials"].redirect_url == "https://api.example/brokers/zerodha/callback"
    )
    account, session = rig.sessions.complete_callback(
        "zerodha", {"state": state, "request_token": "rt1"}
    )
    assert account.account_id == "A1" and session.account_id == "A1"
    assert FakeCipher().open(session.sealed, owner=UID)["access_token"] == "token-for-rt1"
    with pytest.raises(ValidationFailed) as replay:
        rig.sessions.complete_callback("zerodha", {"state": state, "request_token": "rt1"})
    assert replay.value.code == "invalid_state"


def test_a_state_is_refused_for_another_broker_and_after_its_lifetime(rig):
    with pytest.raises(ValidationFailed) as wrong:
        rig.sessions.complete_callback("upstox", {"state": rig.start(), "code": "c"})
    assert wrong.value.code == "invalid_state"
    state = rig.start()
    rig.now = NOW + STATE_LIFETIME + timedelta(seconds=1)
    with pytest.raises(ValidationFailed) as late:
        rig.sessions.complete_callback("zerodha", {"state": state, "request_token": "rt"})
    assert late.value.code == "state_expired"
    assert rig.store.get_session(UID, "A1") is None


def test_a_redirect_without_the_code_or_reporting_failure_stores_nothing(rig):
    with pytest.raises(ValidationFailed):
        rig.sessions.complete_callback("zerodha", {"state": rig.start(), "status": "cancelled"})
    with pytest.raises(ValidationFailed) as missing:
        rig.sessions.complete_callback("zerodha", {"state": rig.start()})
    assert missing.value.field == "request_token"
    assert rig.store.get_session(UID, "A1") is None


def test_a_broker_outage_during_the_exchange_is_a_503_and_keeps_no_session(rig):
    rig.fail = True
    with pytest.raises(Exception) as error:
        rig.sessions.complete_with_code(UID, "A1", "123456")
    assert error.value.status == 503 and error.value.code == "broker_unavailable"
    assert rig.store.get_session(UID, "A1") is None


def test_an_account_without_an_api_key_cannot_start_a_login(rig):
    rig.store.accounts[(UID, "A1")].secret_blob = None
    with pytest.raises(Unprocessable) as error:
        rig.sessions.login_url(UID, "A1")
    assert error.value.code == "missing_credentials" and rig.store.oauth_states == {}


def test_readiness_needs_a_session_that_outlives_todays_close(rig):
    assert rig.sessions.readiness(UID)[0]["action"].startswith("never logged in")
    rig.sessions.complete_with_code(UID, "A1", "otp")
    ready = rig.sessions.readiness(UID)[0]
    assert ready["usable_today"] and ready["until"] == "2026-11-26T06:00:00+05:30"
    rig.now = datetime(2026, 11, 26, 7, 0, tzinfo=IST)
    assert rig.sessions.readiness(UID)[0]["session"]["status"] == "EXPIRED"


def test_a_paper_account_on_the_book_trades_without_a_login(rig):
    paper = rig.store.create_account(UID, "P1", broker="paper", client_id="P1", label="paper",
                                     static_ip_note=None, secret_blob=None,
                                     quote_account_id=None)  # fmt: skip
    session = rig.sessions.open_paper(paper)
    assert session is not None and rig.built == []  # no broker was asked
    assert datetime.fromisoformat(session.expires_at) > NOW + timedelta(days=3000)


def test_broker_access_opens_the_stored_session_and_refuses_an_expired_one(rig):
    rig.sessions.complete_with_code(UID, "A1", "otp")
    access = BrokerAccess(repo=rig.store, cipher=FakeCipher(), hosts={"zerodha": {"api": "h"}},
                          clock=lambda: rig.now, build=rig.build)  # fmt: skip
    adapter = access.adapter(UID, "A1")
    assert adapter.session.access_token == "token-for-otp"
    assert rig.built[-1]["hosts"] == {"api": "h"} and rig.built[-1]["account"] == "A1"
    rig.now = datetime(2026, 11, 26, 6, 0, tzinfo=IST)
    with pytest.raises(SessionUnavailable) as error:
        access.adapter(UID, "A1")
    assert error.value.code == "session_expired" and error.value.account_id == "A1"
