"""Registry wiring and the dated session-expiry rules."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from chalicelib.adapters.brokers.error_table import mentions_ip_refusal
from chalicelib.adapters.brokers.registry import (
    ADAPTERS,
    UnknownBroker,
    build_broker,
    default_hosts,
)
from chalicelib.adapters.brokers.session_expiry import default_rules, session_expiry
from chalicelib.ports.broker import Broker, Credentials
from tests.unit.brokers.helpers import IST

CREDS = Credentials(api_key="k", api_secret="s", client_id="C1")


def test_every_broker_name_builds_an_adapter_satisfying_the_port():
    assert set(ADAPTERS) == {
        "zerodha",
        "angelone",
        "upstox",
        "fyers",
        "dhan",
        "shoonya",
        "zebu",
        "paper",
    }
    for name in ADAPTERS:
        hosts = (
            {"api": "http://127.0.0.1:1", "login": "http://127.0.0.1:1"}
            if name == "paper"
            else None
        )
        adapter = build_broker(name, CREDS, account="a1", hosts=hosts)
        assert isinstance(adapter, Broker) and adapter.name == name
        assert {r.broker for r in default_rules()} >= {name}


def test_hosts_override_and_paper_needs_a_host():
    adapter = build_broker("zerodha", CREDS, account="a1", hosts={"api": "http://127.0.0.1:9"})
    assert adapter.hosts["api"] == "http://127.0.0.1:9"
    assert adapter.hosts["login"] == default_hosts("zerodha")["login"]
    assert default_hosts("shoonya")["api"] != default_hosts("zebu")["api"]
    with pytest.raises(ValueError, match="paper"):
        build_broker("paper", CREDS, account="a1")
    with pytest.raises(UnknownBroker):
        build_broker("icici", CREDS, account="a1")


@pytest.mark.parametrize(
    ("broker", "issued", "expires"),
    [
        (
            "zerodha",
            datetime(2026, 11, 16, 23, 59, tzinfo=IST),
            datetime(2026, 11, 17, 6, 0, tzinfo=IST),
        ),
        (
            "zerodha",
            datetime(2026, 11, 16, 6, 0, tzinfo=IST),
            datetime(2026, 11, 17, 6, 0, tzinfo=IST),
        ),
        (
            "angelone",
            datetime(2026, 11, 16, 9, 0, tzinfo=IST),
            datetime(2026, 11, 17, 5, 0, tzinfo=IST),
        ),
        (
            "upstox",
            datetime(2026, 11, 16, 2, 0, tzinfo=IST),
            datetime(2026, 11, 16, 3, 30, tzinfo=IST),
        ),
        (
            "dhan",
            datetime(2026, 11, 16, 9, 0, tzinfo=IST),
            datetime(2026, 11, 17, 9, 0, tzinfo=IST),
        ),
    ],
)
def test_expiry_rules(broker, issued, expires):
    result = session_expiry(broker, issued)
    assert result == expires and result.tzinfo is not None


def test_expiry_from_utc_input_is_ist_and_broker_value_wins():
    utc = datetime(2026, 11, 16, 3, 30, tzinfo=IST).astimezone(tz=None)
    assert session_expiry("zerodha", utc).utcoffset() == timedelta(hours=5, minutes=30)
    told = datetime(2026, 11, 20, 9, tzinfo=IST)
    assert session_expiry("dhan", utc, broker_expiry=told) == told
    with pytest.raises(ValueError):
        session_expiry("zerodha", datetime(2026, 11, 16, 9))


@pytest.mark.parametrize(
    ("message", "about_ip"),
    [
        (
            "Order placement is not allowed from this IP. Register your static IP in the Kite "
            "Connect developer console. IP: 10.0.0.1",
            True,
        ),
        ("IP address not whitelisted", True),
        ("Request from a non-whitelisted IP address", True),
        ("Invalid Symbol Token", False),
        ("Order not allowed: price outside band", False),
    ],
)
def test_ip_refusal_detection(message, about_ip):
    assert mentions_ip_refusal(message) is about_ip
