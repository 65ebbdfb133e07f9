"""infra/ applied to the emulator is what the code expects: the table's keys and indexes equal the
PynamoDB models, and the tick state machine runs plan -> wait -> map -> fire.

The emulator cannot run Lambda code without Docker, so the plan and fire functions here are test
doubles whose answers are queued through the emulator's lambda-simple API; the handlers themselves
are tested through Chalice's test client.
"""

from __future__ import annotations

import io
import json
import time
import urllib.request
import uuid
import zipfile
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from chalicelib.adapters.dynamo.models import declared_schema


def _client(service, settings):
    return boto3.client(
        service, endpoint_url=settings.aws_endpoint_url, region_name=settings.region
    )


def test_table_matches_the_models(infra, settings):
    table = _client("dynamodb", settings).describe_table(TableName=infra["table_name"])["Table"]
    declared = declared_schema()
    assert table["KeySchema"] == declared["KeySchema"]
    applied = {
        index["IndexName"]: {
            "KeySchema": index["KeySchema"],
            "Projection": {
                **index["Projection"],
                **(
                    {"NonKeyAttributes": sorted(index["Projection"]["NonKeyAttributes"])}
                    if "NonKeyAttributes" in index["Projection"]
                    else {}
                ),
            },
        }
        for index in table["GlobalSecondaryIndexes"]
    }
    assert applied == declared["GlobalSecondaryIndexes"]
    ttl = _client("dynamodb", settings).describe_time_to_live(TableName=infra["table_name"])
    assert ttl["TimeToLiveDescription"]["AttributeName"] == declared["TimeToLiveAttribute"]
    assert table["SSEDescription"]["Status"] in ("ENABLED", "ENABLING")


def test_static_egress_ip_routes_private_subnets_through_one_nat(infra, settings):
    import ipaddress

    assert ipaddress.ip_address(infra["egress_ip"])  # the address to whitelist at brokers
    ec2 = _client("ec2", settings)
    assert len(infra["lambda_subnet_ids"]) == 2 and len(infra["lambda_security_group_ids"]) == 1
    tables = ec2.describe_route_tables(
        Filters=[{"Name": "association.subnet-id", "Values": infra["lambda_subnet_ids"]}]
    )["RouteTables"]
    gateways = {
        r.get("NatGatewayId")
        for t in tables
        for r in t["Routes"]
        if r.get("DestinationCidrBlock") == "0.0.0.0/0"
    }
    assert len(gateways) == 1 and None not in gateways
    [nat] = ec2.describe_nat_gateways(NatGatewayIds=list(gateways))["NatGateways"]
    assert nat["NatGatewayAddresses"][0]["PublicIp"] == infra["egress_ip"]


def test_the_schedule_has_a_dead_letter_queue(infra, settings):
    scheduler = _client("scheduler", settings)
    schedule = scheduler.get_schedule(Name=infra["tick_state_machine_arn"].rsplit(":", 1)[-1])
    assert schedule["ScheduleExpressionTimezone"] == "Asia/Kolkata"
    assert schedule["Target"]["DeadLetterConfig"]["Arn"].endswith("-tick-dlq")
    assert infra["tick_dlq_url"]


def test_everything_the_app_needs_is_output(infra):
    for name in ("table_name", "user_pool_id", "user_pool_client_id", "secrets_kms_key_id",
                 "tick_state_machine_arn", "alarm_topic_arn", "lambda_role_arn"):  # fmt: skip
        assert infra[name], name
    assert set(infra["lambda_function_names"]) == {"plan", "fire", "settle", "api"}


@pytest.fixture(scope="module")
def lambda_doubles(infra, settings):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("handler.py", "def handler(event, context):\n    return event\n")
    client = _client("lambda", settings)
    for name in (infra["lambda_function_names"][k] for k in ("plan", "fire", "settle")):
        client.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=infra["lambda_role_arn"],
            Handler="handler.handler",
            Code={"ZipFile": archive.getvalue()},
        )
    return infra["lambda_function_names"]


def _queue_lambda_answers(settings, answers):
    request = urllib.request.Request(
        settings.aws_endpoint_url + "/moto-api/static/lambda-simple/response",
        data=json.dumps(
            {"results": [json.dumps(a) for a in answers], "region": settings.region}
        ).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 201


def _run(settings, infra, payload, timeout=30):
    sfn = _client("stepfunctions", settings)
    arn = sfn.start_execution(
        stateMachineArn=infra["tick_state_machine_arn"],
        name=uuid.uuid4().hex,
        input=json.dumps(payload),
    )["executionArn"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described, sfn.get_execution_history(executionArn=arn)["events"]
        time.sleep(0.2)
    raise AssertionError("the tick did not finish")


def test_tick_plans_waits_and_fans_out_to_fire(lambda_doubles, infra, settings):
    wake_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
    plan = {
        "slot": "2026-11-25T09:20:00+05:30",
        "wake_at": wake_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "batches": [{"accounts": ["A1"]}, {"accounts": ["A2"]}, {"accounts": ["A3"]}],
        "executions": [{"uid": "u1", "sk": "EXEC#2026-11-25#s1#ENTRY"}],
    }
    settled = {"slot": plan["slot"], "statuses": {"EXEC#2026-11-25#s1#ENTRY": "COMPLETE"}}
    _queue_lambda_answers(settings, [plan, {"sent": 4}, {"sent": 4}, {"sent": 3}, settled])
    started = datetime.now(UTC)
    described, events = _run(settings, infra, {"scheduled_time": "2026-11-25T03:49:00Z"})
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert sorted(r["result"]["sent"] for r in output["fired"]) == [3, 4, 4]
    assert output["plan"]["slot"] == plan["slot"]
    assert (
        output["settled"]["result"]["statuses"] == settled["statuses"]
    )  # settle runs after the fan-out
    types = [e["type"] for e in events]
    assert "WaitStateEntered" in types and "MapStateEntered" in types
    # The Wait held the fan-out until wake_at, to its whole-second precision: the fire Lambdas
    # finish the last second on their own monotonic clock.
    assert datetime.now(UTC) > wake_at - timedelta(seconds=1)
    assert started < wake_at


def test_tick_with_nothing_due_ends_quietly(lambda_doubles, infra, settings):
    _queue_lambda_answers(
        settings,
        [{"slot": "s", "wake_at": "2026-11-25T03:49:59Z", "batches": [], "executions": []}],
    )
    described, events = _run(settings, infra, {"scheduled_time": "2026-11-25T03:49:00Z"})
    assert described["status"] == "SUCCEEDED", [e.get("taskFailedEventDetails") for e in events]
    assert "MapStateEntered" not in [e["type"] for e in events]
