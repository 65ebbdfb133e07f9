"""The engine end to end on the emulator and the fake brokers: plan before T (gate, quotes, orders),
fire at T (BUY before SELL, once), under duplicate triggers, retries and a second clock."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import boto3
import pytest

from chalicelib.adapters.dynamo import tick_items
from chalicelib.adapters.dynamo.models import SessionItem
from chalicelib.container import Container, use_container
from chalicelib.domain.calendar import IST
from chalicelib.domain.expiry import ExpiryChoice, resolve_expiry, trading_days_to_expiry
from chalicelib.domain.underlying import Underlying
from chalicelib.services.clock import ShiftedClock
from chalicelib.services.planner import Planner
from tests.conftest import REGION
from tests.factories import four_leg_strategy
from tests.integration import iam_audit
from tests.integration.conftest import broker_login, sign_up

SLOT = datetime(2026, 11, 25, 9, 20, tzinfo=IST)  # a Wednesday and a trading day


@pytest.fixture
def trader(client, fakes) -> Iterator[dict]:
    """A user with a Kite and a Shoonya account logged in, sessions covering the slot day."""
    api, uid = sign_up(client)
    accounts = {}
    for broker, client_id in (("zerodha", "ZE1"), ("shoonya", "SH1")):
        account, query = broker_login(api, fakes, broker, client_id + uid[:4])
        assert client.http.get(f"/brokers/{broker}/callback?{query}").status_code == 200
        session = SessionItem.get(*SessionItem.key(uid, account["id"]))
        session.update(
            actions=[SessionItem.expires_at.set((SLOT + timedelta(hours=8)).isoformat())]
        )
        accounts[broker] = account["id"]
    basket = api.call("POST", "/baskets", {"name": "engine"}).data["id"]
    body = four_leg_strategy(basket, accounts["zerodha"], accounts["shoonya"])
    body["entry"] = {"time": "09:20:00", "days": ["WED"]}
    strategy = api.call("POST", "/strategies", body).data
    yield {"api": api, "uid": uid, "accounts": accounts, "strategy": strategy["id"]}


def _engine(fakes, at: datetime) -> Container:
    engine = Container(fakes["settings"], clock=ShiftedClock(at))
    use_container(engine)
    return engine


def test_plan_then_fire_sends_every_leg_once(client, fakes, trader):
    engine = _engine(fakes, SLOT - timedelta(seconds=20))
    plan = engine.planner.plan(SLOT)
    mine = [e for e in plan.executions if e.uid == trader["uid"]]
    assert len(mine) == 1 and mine[0].errors == []
    orders = mine[0].orders
    # A1 (Kite) trades legs 0-3 x1; A2 (Shoonya) legs 0, 2, 3 x2: one slice each (<= freeze)
    per_account = Counter(o.account_id for o in orders)
    assert per_account == {trader["accounts"]["zerodha"]: 4, trader["accounts"]["shoonya"]: 3}
    assert {
        o.request["quantity"] for o in orders if o.account_id == trader["accounts"]["shoonya"]
    } == {130}
    assert all(
        o.status == "BUILT" and datetime.fromisoformat(o.scheduled_at) == SLOT for o in orders
    )
    assert plan.stats["dynamodb_requests_to_plan"] >= engine.settings.schedule_shards

    # duplicate trigger, retry and a second clock: the gate is taken, nothing more is built
    assert engine.planner.plan(SLOT).stats["duplicates"] >= 1
    second_clock = Planner(engine.plan_store, engine.planner.builder, owner="clock-2")
    again = second_clock.plan(SLOT)
    assert all(e.uid != trader["uid"] for e in again.executions)

    engine.clock.set(SLOT - timedelta(milliseconds=150))
    outcome = engine.firer.fire(orders)
    assert outcome == {"sent": 7, "failed": 0, "skipped": 0}
    assert engine.firer.fire(orders) == {"sent": 0, "failed": 0, "skipped": 7}  # claimed once

    stored = engine.executions.orders_of_execution(trader["uid"], mine[0].execution_sk)
    assert {o.status for o in stored} == {"OPEN"}  # acknowledged
    for account_id in trader["accounts"].values():
        sent = sorted((o for o in stored if o.account_id == account_id), key=lambda o: o.sent_at)
        sides = [o.request["side"] for o in sent]
        assert sides == sorted(sides)  # every BUY before any SELL ("BUY" < "SELL")
    for o in stored:
        assert o.broker_order_id and o.sent_at and o.acked_at
        assert datetime.fromisoformat(o.sent_at) >= SLOT  # never early
    received = Counter()
    for server in fakes["servers"].values():
        for request in server.received:
            received[request.account] += 1
    assert sum(received.values()) == 7


@pytest.fixture
def recording(client, fakes, emulator_url) -> Iterator[None]:
    """The emulator records every request from here on (after the platform exists, so Terraform's
    and the harness's set-up calls are not in it): sign-up, broker logins, the tick."""
    iam_audit.recorder(emulator_url, "reset-recording")
    iam_audit.recorder(emulator_url, "start-recording")
    try:
        yield
    finally:
        iam_audit.recorder(emulator_url, "stop-recording")


def test_lambda_plan_fire_and_settle_handlers_within_the_lambda_role(
    client, fakes, recording, trader, infra, emulator_url
):
    """The tick's three handlers, end to end; every AWS call the app made since sign-up (recorded
    by the emulator) is one the Lambda role Terraform declared allows: the emulator enforces no
    IAM, AWS does."""
    _plan_fire_and_settle(client, fakes, trader)
    iam_audit.recorder(emulator_url, "stop-recording")
    made = list(iam_audit.calls(iam_audit.recorded(emulator_url), _resolver(infra, emulator_url)))
    policy = iam_audit.statements(_role_policies(infra, emulator_url))
    actions = {c.action for c in made}
    print(f"\nIAM audit: {len(made)} calls, {len(actions)} actions: {sorted(actions)}")
    assert {
        "dynamodb:Query",
        "dynamodb:BatchGetItem",
        "dynamodb:UpdateItem",
        "dynamodb:PutItem",
        "kms:GenerateDataKey",
        "kms:Decrypt",
        "cognito-idp:AdminConfirmSignUp",
    } <= actions
    # requests without credentials are the public ones: sign-up, login and the JWT signing keys
    unsigned = {a for a in actions if a.startswith("unsigned:")}
    assert unsigned and all(
        a.endswith((".SignUp", ".InitiateAuth", ".ConfirmSignUp", "/.well-known/jwks.json"))
        for a in unsigned
    ), unsigned
    assert iam_audit.denied(policy, made) == []
    # the audit can fail: a call outside the role is reported
    stray = iam_audit.Call("dynamodb:DeleteTable", f"{infra['table_arn']}")
    assert iam_audit.denied(policy, [*made, stray]) == [stray]


def _resolver(infra, endpoint):
    kms = boto3.client("kms", endpoint_url=endpoint, region_name=REGION)
    keys = {}
    for key in kms.list_keys()["Keys"]:
        keys[key["KeyId"]] = keys[key["KeyArn"]] = key["KeyArn"]
    for alias in kms.list_aliases()["Aliases"]:
        if alias.get("TargetKeyId") in keys:
            keys[alias["AliasName"]] = keys[alias["TargetKeyId"]]
    account = infra["table_arn"].split(":")[4]
    return iam_audit.Resolver(REGION, account, keys)


def _role_policies(infra, endpoint):
    iam = boto3.client("iam", endpoint_url=endpoint, region_name=REGION)
    role = infra["lambda_role_arn"].rsplit("/", 1)[-1]
    names = iam.list_role_policies(RoleName=role)["PolicyNames"]
    return [iam.get_role_policy(RoleName=role, PolicyName=n)["PolicyDocument"] for n in names]


def _plan_fire_and_settle(client, fakes, trader):
    engine = _engine(fakes, SLOT - timedelta(seconds=40))
    # the scheduler fires at T-1 min: 09:19 IST = 03:49 UTC
    planned = client.lambda_.invoke("plan_tick", {"scheduled_time": "2026-11-25T03:49:00Z"}).payload
    assert planned["slot"] == SLOT.isoformat() and planned["wake_at"] == "2026-11-25T03:49:55Z"
    # the state machine carries only batch indexes; the order keys wait in the table
    assert planned["orders"] >= 7 and planned["fire"] == list(range(len(planned["fire"])))
    refs = [r for b in planned["fire"] for r in tick_items.load(planned["run"], "FIRE", b)]
    assert len(refs) == planned["orders"]
    engine.clock.set(SLOT - timedelta(milliseconds=100))
    fired = [
        client.lambda_.invoke(
            "fire_batch", {"slot": planned["slot"], "run": planned["run"], "batch": b}
        ).payload
        for b in planned["fire"]
    ]
    assert sum(f["sent"] for f in fired) >= 7 and all(f["failed"] == 0 for f in fired)
    replay = client.lambda_.invoke(
        "fire_batch", {"slot": planned["slot"], "run": planned["run"], "batch": planned["fire"][0]}
    )
    assert replay.payload["sent"] == 0  # a retried Map item sends nothing twice
    again = client.lambda_.invoke("plan_tick", {"scheduled_time": "2026-11-25T03:49:00Z"}).payload
    assert again["fire"] == [] and again["duplicates"] >= 1
    settled = [
        client.lambda_.invoke(
            "settle_slot", {"slot": planned["slot"], "run": planned["run"], "batch": b}
        ).payload
        for b in planned["settle"]
    ]
    statuses = {sk: status for s in settled for sk, status in s["statuses"].items()}
    assert len(statuses) == planned["executions"] >= 1
    assert set(statuses.values()) <= {"COMPLETE", "PARTIAL", "SENT"}


def test_nothing_fires_on_holidays_weekends_or_outside_the_session(fakes, trader):
    engine = _engine(fakes, SLOT)
    assert engine.planner.plan(datetime(2026, 11, 24, 9, 20, tzinfo=IST)).skipped  # holiday
    assert engine.planner.plan(datetime(2026, 11, 28, 9, 20, tzinfo=IST)).skipped  # Saturday
    assert (
        engine.planner.plan(datetime(2026, 11, 25, 9, 0, tzinfo=IST)).skipped
        == "outside the F&O session"
    )


def test_an_account_without_a_session_is_reported_not_sent(client, fakes, trader):
    uid = trader["uid"]
    session = SessionItem.get(*SessionItem.key(uid, trader["accounts"]["shoonya"]))
    session.delete()
    engine = _engine(fakes, SLOT - timedelta(seconds=20))
    [mine] = [e for e in engine.planner.plan(SLOT).executions if e.uid == uid]
    assert {o.account_id for o in mine.orders} == {trader["accounts"]["zerodha"]}
    assert mine.errors[0]["account_id"] == trader["accounts"]["shoonya"]
    assert "log in" in mine.errors[0]["message"]


def test_login_callback_host_is_the_api(fakes):
    assert urlsplit(fakes["settings"].public_api_url).hostname == "127.0.0.1"


def test_exit_closes_what_the_entry_filled(client, fakes, trader):
    """Exits come from positions (what filled), on every account, not from the strategy's legs."""
    engine = _engine(fakes, SLOT - timedelta(seconds=20))
    [entry] = [e for e in engine.planner.plan(SLOT).executions if e.uid == trader["uid"]]
    engine.clock.set(SLOT - timedelta(milliseconds=50))
    engine.firer.fire(entry.orders)
    report = engine.settlement.settle(trader["uid"], entry.execution_sk)
    assert report.status == "COMPLETE", report
    held = {
        (p.account_id, p.symbol): p.net_quantity for p in engine.executions.positions(trader["uid"])
    }
    assert len(held) == 7 and all(q != 0 for q in held.values())

    # the trader closes one leg by hand at the broker meanwhile? no: exits use our positions
    exit_slot = datetime(2026, 11, 25, 15, 15, tzinfo=IST)
    engine.clock.set(exit_slot - timedelta(seconds=10))
    [exit_plan] = [e for e in engine.planner.plan(exit_slot).executions if e.uid == trader["uid"]]
    assert exit_plan.phase == "EXIT" and exit_plan.errors == []
    closing = {(o.account_id, o.request["side"]) for o in exit_plan.orders}
    assert len(exit_plan.orders) == 7
    assert all(side in ("BUY", "SELL") for _, side in closing)
    engine.clock.set(exit_slot - timedelta(milliseconds=50))
    assert engine.firer.fire(exit_plan.orders)["sent"] == 7
    assert engine.settlement.settle(trader["uid"], exit_plan.execution_sk).status == "COMPLETE"
    flat = {
        (p.account_id, p.symbol): p.net_quantity for p in engine.executions.positions(trader["uid"])
    }
    assert set(flat) == set(held) and set(flat.values()) == {0}


def test_kill_switch_refuses_new_entries(client, fakes, trader):
    engine = _engine(fakes, SLOT - timedelta(seconds=20))
    engine.kill_switch.engage(
        trader["uid"], "strategy", trader["strategy"], who="test", reason="drill"
    )
    [mine] = [e for e in engine.planner.plan(SLOT).executions if e.uid == trader["uid"]]
    assert mine.orders == []
    assert {e["code"] for e in mine.errors} == {"account_unusable"}
    assert all("kill" in e["message"].lower() for e in mine.errors)


def test_end_of_day_reconciliation_settles_what_the_tick_left_open(client, fakes, trader):
    from chalicelib.jobs.reconcile import end_of_day

    engine = _engine(fakes, SLOT - timedelta(seconds=20))
    [entry] = [e for e in engine.planner.plan(SLOT).executions if e.uid == trader["uid"]]
    engine.clock.set(SLOT - timedelta(milliseconds=50))
    engine.firer.fire(entry.orders)  # sent, never settled by the tick
    # This user only: the session's emulator holds every earlier test's users, whose fake brokers
    # are long gone (the job would wait on each of them).
    at, mine = datetime(2026, 11, 25, 15, 45, tzinfo=IST), [trader["uid"]]
    summary = end_of_day(engine, at, users=mine)
    assert summary["settled"][entry.execution_sk] == "COMPLETE"
    again = end_of_day(engine, at, users=mine)
    assert entry.execution_sk not in again["settled"]  # final executions are left alone


def test_a_days_to_expiry_filter_enters_only_on_those_days(fakes, trader):
    """Issue #15 item 3: `entry.dte` runs the entry only when the resolved expiry is that many
    trading days away; on other days the execution is SKIPPED and says why."""
    away = trading_days_to_expiry(
        resolve_expiry(Underlying.NIFTY, ExpiryChoice.CURRENT_WEEK, SLOT.date()), SLOT.date()
    )
    api = trader["api"]
    basket = api.call("POST", "/baskets", {"name": "dte"}).data["id"]
    ids = {}
    for name, dte in (("on", [away]), ("off", [d for d in (0, 1, 2) if d != away][:2])):
        body = four_leg_strategy(
            basket, trader["accounts"]["zerodha"], trader["accounts"]["shoonya"]
        )
        body["name"] = f"dte {name}"
        body["entry"] = {"time": "09:20:00", "days": ["WED"], "dte": dte}
        created = api.call("POST", "/strategies", body)
        assert created.status_code == 201, created.body
        assert created.data["entry"]["dte"] == sorted(dte)
        ids[name] = created.data["id"]
    refused = api.call("POST", "/strategies", {**body, "entry": {**body["entry"], "dte": [1, 1]}})
    assert refused.status_code == 400 and refused.data["error"]["field"] == "entry.dte"

    engine = _engine(fakes, SLOT - timedelta(seconds=20))
    plan = {e.strategy_id: e for e in engine.planner.plan(SLOT).executions}

    assert len(plan[ids["on"]].orders) == 7 and plan[ids["on"]].errors == []
    skipped = plan[ids["off"]]
    assert skipped.orders == [] and skipped.errors[0]["code"] == "not_a_dte_day"
    assert f"{away} trading days" in skipped.errors[0]["message"]
    stored = engine.executions.get_execution(trader["uid"], skipped.execution_sk)
    assert stored.status == "SKIPPED"


def test_waiting_legs_are_not_sent_and_an_all_waiting_entry_arms_its_book(fakes, trader):
    """Issue #15 item 1: a leg with `wait_and_trade` gets no order at T (the risk monitor enters
    it once its premium moved); an entry whose every leg waits is WAITING, not SKIPPED, and its
    risk book holds one PENDING guard per waiting (account, leg) from planning on."""
    api, accounts = trader["api"], trader["accounts"]
    basket = api.call("POST", "/baskets", {"name": "wait"}).data["id"]
    wait = {"direction": "UP", "type": "PERCENT", "value": "10", "until": "10:00:00"}
    ids = {}
    for name in ("some", "all"):
        body = four_leg_strategy(basket, accounts["zerodha"], accounts["shoonya"])
        body["name"], body["entry"] = f"{name} wait", {"time": "09:20:00", "days": ["WED"]}
        body["legs"][0]["wait_and_trade"] = wait
        if name == "all":
            body["legs"] = body["legs"][:1]
        created = api.call("POST", "/strategies", body)
        assert created.status_code == 201, created.body
        ids[name] = created.data["id"]

    # planned well before T (the book's reference is taken at T), even on a loaded machine
    engine = _engine(fakes, SLOT - timedelta(seconds=55))
    plan = {e.strategy_id: e for e in engine.planner.plan(SLOT).executions}

    some = plan[ids["some"]]
    assert some.errors == [] and len(some.orders) == 5  # legs 1-3: leg 0 waits on both accounts
    assert {int(o.request["leg"]) for o in some.orders} == {1, 2, 3}
    waiting = plan[ids["all"]]
    assert waiting.orders == [] and waiting.errors == []
    stored = engine.executions.get_execution(trader["uid"], waiting.execution_sk)
    assert stored.status == "WAITING"
    book = engine.risk.books.get(trader["uid"], SLOT.date().isoformat(), ids["all"])
    assert book is not None
    assert sorted((g["account_id"], g["leg"], g["state"]) for g in book.guards) == sorted(
        (a, 0, "PENDING") for a in accounts.values()
    )
    assert all(g["reference"] is None for g in book.guards)  # taken at T, not before
