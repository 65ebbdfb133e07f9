"""An account whose broker this deployment cannot reach is that account's problem only."""

from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest

from chalicelib.domain.calendar import IST
from chalicelib.errors import DomainError
from chalicelib.services.broker_access import BrokerAccess, BrokerNotConfigured

NOW = datetime(2026, 12, 1, 9, 19, tzinfo=IST)


class Cipher:
    def open(self, blob, owner):
        return {"access_token": "t", "user_id": "u", "api_key": "paper"}


def test_a_paper_account_without_the_simulators_url_is_a_domain_error_not_a_crash():
    def build(broker, credentials, **kwargs):
        raise ValueError("paper needs hosts ['api', 'login'] (the paper server's URL)")

    access = BrokerAccess(
        repo=None,  # type: ignore[arg-type]
        cipher=Cipher(),
        hosts={},
        clock=lambda: NOW,
        build=build,
    )
    account = SimpleNamespace(account_id="A1", broker="paper", uid="u1", secret_blob=None,
                              client_id="P1")  # fmt: skip
    session = SimpleNamespace(expires_at=(NOW + timedelta(days=30)).isoformat(), sealed=b"x")
    with pytest.raises(BrokerNotConfigured) as raised:
        access.adapter_for(account, session)  # type: ignore[arg-type]
    assert isinstance(raised.value, DomainError)  # the planner skips this user's quotes only
    assert raised.value.account_id == "A1" and "paper server's URL" in str(raised.value)
    assert raised.value.code == "broker_not_configured"
