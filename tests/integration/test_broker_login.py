"""Daily broker login through the API against the fake brokers on loopback: login URL with a
single-use state, the broker's redirect to our callback, the token exchange with the broker's
checksum, the sealed session with the broker's expiry, and readiness."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from chalicelib.domain.calendar import IST
from tests.integration.conftest import DIALECTS, broker_login, sign_up

pytestmark = pytest.mark.ambient_time
TRADING_MORNING = datetime(2026, 11, 23, 9, 0, tzinfo=IST)  # a Monday, before the open


@pytest.mark.parametrize("broker", list(DIALECTS))
def test_oauth_login_end_to_end(client, fakes, platform_clock, broker):
    platform_clock.set(TRADING_MORNING)  # a morning login is what readiness calls usable today
    api, _ = sign_up(client)
    account, query = broker_login(api, fakes, broker, f"C{broker[:3].upper()}1")
    anonymous_callback = client.http.get(f"/brokers/{broker}/callback?{query}")
    assert anonymous_callback.status_code == 200, anonymous_callback.body
    refreshed = api.call("GET", f"/accounts/{account['id']}").data
    assert refreshed["session"]["status"] == "VALID"
    expires = datetime.fromisoformat(refreshed["session"]["expires_at"])
    assert expires.utcoffset().total_seconds() == 5.5 * 3600
    assert "access_token" not in api.call("GET", "/accounts").body.decode()

    replay = client.http.get(f"/brokers/{broker}/callback?{query}")
    assert replay.status_code == 400  # the state works once
    ready = api.call("GET", "/accounts/readiness").data["items"]
    [mine] = [r for r in ready if r["account_id"] == account["id"]]
    assert (
        mine["session"]["status"] == "VALID" and mine["until"] == refreshed["session"]["expires_at"]
    )


def test_a_login_at_night_is_valid_but_not_usable_for_the_day_ahead(client, fakes, platform_clock):
    """At 02:00 IST a Kite token still ends at 06:00: readiness says log in again, not "ready"."""
    platform_clock.set(datetime(2026, 11, 30, 2, 0, tzinfo=IST))
    api, _ = sign_up(client)
    account, query = broker_login(api, fakes, "zerodha", "ZKN")
    assert client.http.get(f"/brokers/zerodha/callback?{query}").status_code == 200
    [mine] = [
        r
        for r in api.call("GET", "/accounts/readiness").data["items"]
        if r["account_id"] == account["id"]
    ]
    assert mine["session"] == {"status": "VALID", "expires_at": "2026-11-30T06:00:00+05:30"}
    assert mine["trading_day"] is True and mine["usable_today"] is False
    assert mine["until"] is None and "before today's close" in mine["action"]


def test_readiness_on_a_sunday_and_a_holiday_is_not_a_trading_day(client, fakes, platform_clock):
    platform_clock.set(datetime(2026, 11, 29, 12, 0, tzinfo=IST))
    api, _ = sign_up(client)
    _, query = broker_login(api, fakes, "zerodha", "ZKS")
    client.http.get(f"/brokers/zerodha/callback?{query}")
    [sunday] = api.call("GET", "/accounts/readiness").data["items"]
    assert sunday["trading_day"] is False and sunday["session"]["status"] == "VALID"
    platform_clock.set(datetime(2026, 12, 25, 5, 0, tzinfo=IST))  # Christmas, before 06:00
    [holiday] = api.call("GET", "/accounts/readiness").data["items"]
    assert holiday["trading_day"] is False and holiday["session"]["status"] == "EXPIRED"


def test_kite_session_ends_at_six_next_morning(client, fakes):
    api, _ = sign_up(client)
    account, query = broker_login(api, fakes, "zerodha", "ZK6")
    client.http.get(f"/brokers/zerodha/callback?{query}")
    expires = datetime.fromisoformat(
        api.call("GET", f"/accounts/{account['id']}").data["session"]["expires_at"]
    )
    assert (expires.hour, expires.minute) == (6, 0)


def test_forged_or_foreign_state_is_refused(client, fakes):
    api, _ = sign_up(client)
    _, query = broker_login(api, fakes, "zerodha", "ZK7")
    params = {k: v[0] for k, v in parse_qs(query).items()}
    forged = dict(params, state="not-the-state")
    response = client.http.get(
        "/brokers/zerodha/callback?" + "&".join(f"{k}={v}" for k, v in forged.items())
    )
    assert response.status_code == 400 and b"invalid_state" in response.body
    # a valid state presented to another broker's callback is refused too
    wrong = client.http.get(f"/brokers/upstox/callback?code=x&state={params['state']}")
    assert wrong.status_code == 400
    cancelled = client.http.get(
        f"/brokers/zerodha/callback?status=cancelled&state={params['state']}"
    )
    assert cancelled.status_code == 400


def test_login_needs_credentials_and_ownership(client, fakes):
    api, _ = sign_up(client)
    other, _ = sign_up(client)
    bare = api.call(
        "POST", "/accounts", {"broker": "zerodha", "client_id": "ZK8", "label": "bare"}
    ).data
    refused = api.call("GET", f"/accounts/{bare['id']}/login")
    assert refused.status_code == 422 and refused.data["error"]["code"] == "missing_credentials"
    assert other.call("GET", f"/accounts/{bare['id']}/login").status_code == 404
    ready = api.call("GET", "/accounts/readiness").data["items"]
    assert ready[0]["usable_today"] is False and ready[0]["action"]


def test_wrong_secret_is_a_clear_broker_error(client, fakes):
    api, _ = sign_up(client)
    server = fakes["servers"]["kite"]
    callback = f"{fakes['settings'].public_api_url}/brokers/zerodha/callback"
    server.register_app("key-ZK9", "real-secret", "ZK9", callback)
    account = api.call(
        "POST", "/accounts",
        {"broker": "zerodha", "client_id": "ZK9", "label": "k", "api_key": "key-ZK9", "api_secret": "wrong"},
    ).data  # fmt: skip
    url = api.call("GET", f"/accounts/{account['id']}/login").data["url"]
    query = urlsplit(httpx.get(url, follow_redirects=False).headers["location"]).query
    response = client.http.get(f"/brokers/zerodha/callback?{query}")
    assert response.status_code == 422
    assert b"broker_login_failed" in response.body


def test_angel_style_code_entry(client, fakes):
    api, _ = sign_up(client)
    account = api.call("POST", "/accounts", {"broker": "zerodha", "client_id": "ZK10", "label": "k",
                                              "api_key": "nope", "api_secret": "nope"}).data  # fmt: skip
    response = api.call("POST", f"/accounts/{account['id']}/session", {"code": "bad-token"})
    assert response.status_code in (422, 503)
    assert response.data["error"]["code"].startswith("broker_")


def test_pre_market_readiness_alerts_about_accounts_without_todays_session(
    client, fakes, emulator_url, platform_clock
):
    import json as _json

    import boto3

    from chalicelib.domain.calendar import IST
    from chalicelib.jobs.readiness import pre_market

    platform_clock.set(TRADING_MORNING)
    api, uid = sign_up(client)
    account, query = broker_login(api, fakes, "zerodha", "ZK11")
    client.http.get(f"/brokers/zerodha/callback?{query}")
    idle = api.call("POST", "/accounts", {"broker": "dhan", "client_id": "DH11", "label": "d"}).data
    container = fakes["container"]
    sqs = boto3.client("sqs", endpoint_url=emulator_url, region_name=container.settings.region)
    sns = boto3.client("sns", endpoint_url=emulator_url, region_name=container.settings.region)
    queue = sqs.create_queue(QueueName=f"alerts-{uid[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=container.settings.alarm_topic_arn, Protocol="sqs", Endpoint=queue_arn)

    holiday = pre_market(container, datetime(2026, 11, 24, 8, 30, tzinfo=IST))
    assert holiday["trading_day"] is False and holiday["not_ready"] == []
    # The session from the login above was issued on Mon 23rd and ends at 06:00 on the 24th: on the
    # next trading morning (Wed 25th, 08:30) it has expired, and the Dhan account never logged in.
    summary = pre_market(container, datetime(2026, 11, 25, 8, 30, tzinfo=IST))
    mine = {r["account_id"]: r for r in summary["not_ready"] if r["uid"] == uid}
    assert set(mine) == {account["id"], idle["id"]}
    assert mine[account["id"]]["session"]["status"] == "EXPIRED"
    assert mine[idle["id"]]["session"]["status"] == "NONE"
    assert summary["alerted"] == container.settings.alarm_topic_arn
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)[
        "Messages"
    ]
    body = _json.loads(_json.loads(messages[0]["Body"])["Message"])
    assert idle["id"] in {r["account_id"] for r in body["not_ready"]}
