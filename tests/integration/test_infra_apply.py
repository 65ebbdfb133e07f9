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
from pathlib import Path

import boto3
import pytest

from chalicelib.adapters.dynamo import tick_items
from chalicelib.adapters.dynamo.models import OrderItem, declared_schema
from chalicelib.domain.calendar import IST
from chalicelib.jobs import tick
from chalicelib.services.planner import PlannedExecution, TickPlan
from tests.integration import iam_audit


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


def _nat_instance(infra, settings) -> tuple[dict, dict]:
    """The NAT instance the group launched, and its group."""
    [group] = _client("autoscaling", settings).describe_auto_scaling_groups(
        AutoScalingGroupNames=[infra["nat_autoscaling_group"]]
    )["AutoScalingGroups"]
    [member] = group["Instances"]
    [reservation] = _client("ec2", settings).describe_instances(InstanceIds=[member["InstanceId"]])[
        "Reservations"
    ]
    return reservation["Instances"][0], group


def test_static_egress_ip_is_a_nat_instance_in_a_group_of_one(infra, settings):
    import ipaddress

    assert ipaddress.ip_address(infra["egress_ip"])  # the address to register at brokers
    assert infra["egress_ips"] == [infra["egress_ip"]] and infra["egress_nat"] == "instance"
    ec2 = _client("ec2", settings)
    assert len(infra["lambda_subnet_ids"]) == 2 and len(infra["lambda_security_group_ids"]) == 1
    assert ec2.describe_nat_gateways(
        Filters=[{"Name": "state", "Values": ["available", "pending"]},
                 {"Name": "subnet-id", "Values": [infra["nat_subnet_id"]]}]
    )["NatGateways"] == []  # fmt: skip
    instance, group = _nat_instance(infra, settings)
    assert (group["MinSize"], group["MaxSize"], group["DesiredCapacity"]) == (1, 1, 1)
    assert group["VPCZoneIdentifier"] == infra["nat_subnet_id"]
    assert {m["Metric"] for m in group["EnabledMetrics"]} == {"GroupInServiceInstances"}
    assert instance["InstanceType"] == "t4g.nano" and instance["SubnetId"] == infra["nat_subnet_id"]
    [template] = ec2.describe_launch_template_versions(
        LaunchTemplateId=group["LaunchTemplate"]["LaunchTemplateId"], Versions=["$Latest"]
    )["LaunchTemplateVersions"]
    data = template["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"  # IMDSv2 only
    assert data["IamInstanceProfile"]["Arn"].endswith("-nat")
    [interface] = data["NetworkInterfaces"]
    assert interface["AssociatePublicIpAddress"] is True  # until the Elastic IP replaces it
    alarms = _client("cloudwatch", settings).describe_alarms(
        AlarmNamePrefix=infra["nat_autoscaling_group"]
    )["MetricAlarms"]
    by_metric = {a["MetricName"]: a for a in alarms}
    assert set(by_metric) == {"GroupInServiceInstances", "StatusCheckFailed"}
    for alarm in alarms:
        assert alarm["AlarmActions"] == [infra["alarm_topic_arn"]]
        assert alarm["Dimensions"] == [
            {"Name": "AutoScalingGroupName", "Value": infra["nat_autoscaling_group"]}
        ]
    assert by_metric["GroupInServiceInstances"]["TreatMissingData"] == "breaching"


def test_nat_instance_boot_takes_the_ip_and_routes_the_lambda_subnets(infra, settings):
    """Runs the AWS half of the rendered user data (steps 2-4) against the emulator, as the
    instance would after configuring forwarding: its source/destination check goes off, it holds
    the Elastic IP, and both Lambda subnets' default route points at its network interface."""
    import base64
    import os
    import shutil
    import subprocess

    if shutil.which("aws") is None:
        pytest.skip("the AWS CLI is not installed")
    ec2 = _client("ec2", settings)
    instance, _ = _nat_instance(infra, settings)
    interface = instance["NetworkInterfaces"][0]["NetworkInterfaceId"]
    encoded = ec2.describe_instance_attribute(
        InstanceId=instance["InstanceId"], Attribute="userData"
    )["UserData"]["Value"]
    script = base64.b64decode(encoded).decode()
    assert script.startswith("#!/bin/bash\n")
    checked = subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True)
    assert checked.returncode == 0, checked.stderr
    aws_half = script[script.index("# 2.") :].split("# ---- engine mode")[0]
    prelude = f'retry() {{ "$@"; }}\ninstance={instance["InstanceId"]}\neni={interface}\n'
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": settings.aws_endpoint_url,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": settings.region,
    }
    booted = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", prelude + aws_half],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert booted.returncode == 0, booted.stderr[-2000:]
    attribute = ec2.describe_instance_attribute(
        InstanceId=instance["InstanceId"], Attribute="sourceDestCheck"
    )
    assert attribute["SourceDestCheck"]["Value"] is False
    [address] = ec2.describe_addresses(PublicIps=[infra["egress_ip"]])["Addresses"]
    assert address["NetworkInterfaceId"] == interface
    tables = ec2.describe_route_tables(
        Filters=[{"Name": "association.subnet-id", "Values": infra["lambda_subnet_ids"]}]
    )["RouteTables"]
    targets = {
        (t["RouteTableId"], r.get("NetworkInterfaceId"), r.get("NatGatewayId"))
        for t in tables
        for r in t["Routes"]
        if r.get("DestinationCidrBlock") == "0.0.0.0/0"
    }
    assert len(targets) == 1  # one table serves both subnets: one source address
    assert [(nic, gateway) for _, nic, gateway in targets] == [(interface, None)]


def test_the_schedule_has_a_dead_letter_queue(infra, settings):
    scheduler = _client("scheduler", settings)
    schedule = scheduler.get_schedule(Name=infra["tick_state_machine_arn"].rsplit(":", 1)[-1])
    assert schedule["ScheduleExpressionTimezone"] == "Asia/Kolkata"
    dlq = schedule["Target"]["DeadLetterConfig"]["Arn"]
    assert dlq.endswith("-tick-dlq")
    assert infra["tick_dlq_url"]
    # Scheduler delivers to the DLQ with the schedule's own role: it must allow the send
    iam = _client("iam", settings)
    role = schedule["Target"]["RoleArn"].rsplit("/", 1)[-1]
    documents = [
        iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]
    ]
    policy = iam_audit.statements(documents)
    assert (
        iam_audit.denied(
            policy,
            [
                iam_audit.Call("sqs:SendMessage", dlq),
                iam_audit.Call("states:StartExecution", infra["tick_state_machine_arn"]),
            ],
        )
        == []
    )
    assert not iam_audit.allowed(policy, iam_audit.Call("sqs:SendMessage", dlq + "-other"))


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
    names = {k: infra["lambda_function_names"][k] for k in ("plan", "fire", "settle")}
    for name in names.values():
        client.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=infra["lambda_role_arn"],
            Handler="handler.handler",
            Code={"ZipFile": archive.getvalue()},
        )
    return names


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
            return described, _history(sfn, arn)
        time.sleep(0.2)
    raise AssertionError("the tick did not finish")


def _history(sfn, arn):
    events, token = [], None
    while True:
        page = sfn.get_execution_history(
            executionArn=arn, maxResults=1000, **({"nextToken": token} if token else {})
        )
        events += page["events"]
        token = page.get("nextToken")
        if not token:
            return events


def _plan_answer(wake_at, fire, settle):
    return {
        "slot": "2026-11-25T09:20:00+05:30",
        "wake_at": wake_at,
        "run": "2026-11-25T09:20:00+05:30#0a1b2c3d",
        "fire": list(range(fire)),
        "settle": list(range(settle)),
        "plan_failed": 0,
    }


PLAN_PARTS = 1  # infra/variables.tf plan_parts: the plan Lambda answers each part, then gathers


def _planned(gathered):
    """What the plan Lambda double answers: each part (its indexes, here all in part 0's
    answer), then the gather (the tick's plan)."""
    parts = [
        {"fire": gathered["fire"] if n == 0 else [], "settle": gathered["settle"] if n == 0 else [],
         "orders": 0, "executions": 0}
        for n in range(PLAN_PARTS)
    ]  # fmt: skip
    return [*parts, gathered]


def test_tick_plans_waits_and_fans_out_to_fire_then_settle(lambda_doubles, infra, settings):
    wake_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
    plan = _plan_answer(wake_at.strftime("%Y-%m-%dT%H:%M:%SZ"), fire=3, settle=2)
    settled = {"slot": plan["slot"], "statuses": {"EXEC#2026-11-25#s1#ENTRY": "COMPLETE"}}
    _queue_lambda_answers(
        settings, [*_planned(plan), {"sent": 4}, {"sent": 4}, {"sent": 3}, settled, settled]
    )
    started = datetime.now(UTC)
    described, events = _run(settings, infra, {"scheduled_time": "2026-11-25T03:49:00Z"})
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    # each Map iteration answers 0 (done) or 1 (failed): nothing else accumulates in the state
    assert output["fired"] == [0, 0, 0] and output["settled"] == [0, 0]
    assert output["plan"]["run"] == plan["run"]
    entered = [
        e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e
    ]
    assert entered.index("Settle") > max(i for i, n in enumerate(entered) if n == "FireBatch")
    fire_inputs = [
        json.loads(e["stateEnteredEventDetails"]["input"])
        for e in events
        if e.get("stateEnteredEventDetails", {}).get("name") == "FireBatch"
    ]
    assert sorted(i["batch"] for i in fire_inputs) == [0, 1, 2]
    assert {i["run"] for i in fire_inputs} == {plan["run"]}  # a reference, never an order list
    types = [e["type"] for e in events]
    assert "WaitStateEntered" in types and "MapStateEntered" in types
    # The Wait held the fan-out until wake_at, to its whole-second precision: the fire Lambdas
    # finish the last second on their own monotonic clock.
    assert datetime.now(UTC) > wake_at - timedelta(seconds=1)
    assert started < wake_at


def test_tick_with_nothing_due_ends_quietly(lambda_doubles, infra, settings):
    _queue_lambda_answers(settings, _planned(_plan_answer("2026-11-25T03:49:59Z", 0, 0)))
    described, events = _run(settings, infra, {"scheduled_time": "2026-11-25T03:49:00Z"})
    assert described["status"] == "SUCCEEDED", [e.get("taskFailedEventDetails") for e in events]
    entered = [
        e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e
    ]
    assert "Fire" not in entered and "Settle" not in entered


# Service limits (facts, not timings): a Step Functions state's input or output, a DynamoDB item,
# and the events of one standard execution's history.
STATE_PAYLOAD_LIMIT = 256 * 1024
ITEM_LIMIT = 400 * 1024
HISTORY_LIMIT = 25_000
LARGEST_TICK = 10_000  # orders in one minute


def _largest_tick():
    """10,000 orders: 2,500 users, one account and one four-leg entry each, keys as stored."""
    slot = datetime(2026, 11, 25, 9, 20, tzinfo=IST)
    plan = TickPlan(slot)
    for n in range(LARGEST_TICK // 4):
        uid = f"{uuid.UUID(int=n)}"
        execution = f"EXEC#2026-11-25#{uuid.UUID(int=n + 10**6)}#ENTRY"
        planned = PlannedExecution(uid, "s", "ENTRY", execution, slot)
        for leg in range(4):
            pk, sk = OrderItem.key(uid, "2026-11-25", f"E{n:05d}L{leg}-ACC{n:05d}")
            planned.orders.append(
                OrderItem(pk, sk, uid=uid, account_id=f"ACC{n:05d}", scheduled_at=slot.isoformat())
            )
        plan.executions.append(planned)
    plan.stats = {"due": len(plan.executions), "accounts": len(plan.executions)}
    return plan


def test_the_largest_tick_stays_far_under_every_service_limit(
    lambda_doubles, infra, settings, container
):
    plan = _largest_tick()
    answer = tick.dispatch(container.tick_batches, plan, plan.slot, container.clock())
    assert answer["orders"] == LARGEST_TICK and len(answer["fire"]) == tick.MAX_FIRE_BATCHES
    batches = {
        kind: [tick_items.load(answer["run"], kind, i) for i in answer[kind.lower()]]
        for kind in ("FIRE", "SETTLE")
    }
    assert sum(len(b) for b in batches["FIRE"]) == LARGEST_TICK  # every order in exactly one
    largest_item = max(len(json.dumps(b)) for kind in batches.values() for b in kind)
    fire_answer = {"orders": 250, "sent": 250, "failed": 0, "skipped": 0}
    settle_answer = {
        "slot": answer["slot"],
        "statuses": {f"EXEC#2026-11-25#{uuid.UUID(int=n)}#ENTRY": "COMPLETE" for n in range(10)},
        "errors": 0,
        "recovery": {"orders": 0},
    }
    _queue_lambda_answers(
        settings,
        _planned({**answer, "plan_failed": 0})
        + [fire_answer] * len(answer["fire"])
        + [settle_answer] * len(answer["settle"]),
    )
    described, events = _run(settings, infra, {"scheduled_time": "2026-11-25T03:49:00Z"}, 180)
    assert described["status"] == "SUCCEEDED", described
    sizes: dict[str, int] = {}
    for event in events:
        for key in ("stateEnteredEventDetails", "stateExitedEventDetails"):
            details = event.get(key)
            if details:
                size = len(details.get("input", details.get("output", "")).encode())
                sizes[details["name"]] = max(sizes.get(details["name"], 0), size)
        for key in ("taskScheduledEventDetails", "taskSucceededEventDetails"):
            details = event.get(key)
            if details:
                size = len(details.get("parameters", details.get("output", "")).encode())
                sizes["task " + key[4:-12]] = max(sizes.get("task " + key[4:-12], 0), size)
    print(
        f"\nlargest tick: {answer['orders']} orders, {answer['executions']} executions, "
        f"{len(answer['fire'])} fire + {len(answer['settle'])} settle batches; "
        f"{len(events)} history events (limit {HISTORY_LIMIT}); largest batch item "
        f"{largest_item} B (limit {ITEM_LIMIT})"
    )
    for name, size in sorted(sizes.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<22} largest payload {size:>7} B  ({size / STATE_PAYLOAD_LIMIT:.1%})")
    assert {"PlanPart", "Plan", "Fire", "FireBatch", "Settle", "SettleBatch", "Outcome"} <= set(
        sizes
    )
    # far under: a tenth of the limit leaves room for ten times the tick
    assert max(sizes.values()) < STATE_PAYLOAD_LIMIT / 10
    assert largest_item < ITEM_LIMIT / 4
    assert len(events) < HISTORY_LIMIT / 2


def test_engine_mode_applies_over_the_default_and_keeps_the_registered_ip(
    infra, infra_run, settings
):
    """Engine mode applied over the session's stack (last in this module: it changes the NAT
    instance's launch template). The clock process becomes a systemd service on the NAT instance;
    the Elastic IP the trader registered stays the same."""
    import base64
    import subprocess

    from localdev import terraform

    engine = terraform.apply(
        "test",
        infra_run["endpoint"],
        name_suffix=infra_run["name_suffix"],
        work_dir=infra_run["work_dir"],
        extra_vars={**infra_run["extra_vars"], "engine_mode": "true"},
        include_app=False,
        refresh=False,  # the session's state is fresh; re-reading it costs half a minute
    )
    assert engine["egress_ip"] == infra["egress_ip"]
    bucket, key = engine["engine_bundle_uri"].removeprefix("s3://").split("/", 1)
    assert key == "engine.tar.gz"
    access = _client("s3", settings).get_public_access_block(Bucket=bucket)
    assert all(access["PublicAccessBlockConfiguration"].values())
    _, group = _nat_instance(infra, settings)
    [template] = _client("ec2", settings).describe_launch_template_versions(
        LaunchTemplateId=group["LaunchTemplate"]["LaunchTemplateId"], Versions=["$Latest"]
    )["LaunchTemplateVersions"]
    assert template["LaunchTemplateData"]["InstanceType"] == "t4g.micro"
    script = base64.b64decode(template["LaunchTemplateData"]["UserData"]).decode()
    checked = subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True)
    assert checked.returncode == 0, checked.stderr
    assert "ExecStart=/opt/optexec/venv/bin/python -m localdev.clock" in script
    assert "OnCalendar=Mon..Fri 08:00 Asia/Kolkata" in script
    assert "OnCalendar=Mon..Fri 16:15 Asia/Kolkata" in script
    assert f"TABLE_NAME={infra['table_name']}\n" in script
    assert f"s3://{bucket}/{key}" in script
    assert "SECRET" not in script.replace("SECRETS_KMS_KEY_ID", "")  # ids only, no secrets
    alarms = _client("cloudwatch", settings).describe_alarms(
        AlarmNamePrefix=infra["nat_autoscaling_group"].removesuffix("-nat") + "-engine-"
    )["MetricAlarms"]
    assert {a["MetricName"] for a in alarms} == {"EngineUp", "TickLateMs"}
    assert all(a["AlarmActions"] == [infra["alarm_topic_arn"]] for a in alarms)
    [late_filter] = _client("logs", settings).describe_metric_filters(
        metricName="TickLateMs", metricNamespace=alarms[0]["Namespace"]
    )["metricFilters"]
    assert late_filter["filterPattern"] == '[..., label = "tick_late_ms", ms]'
    clock_source = Path(__file__).resolve().parents[2] / "localdev" / "clock.py"
    assert "tick_late_ms" in clock_source.read_text()  # the line it parses
    role = template["LaunchTemplateData"]["IamInstanceProfile"]["Arn"].rsplit("/", 1)[-1]
    policies = _client("iam", settings).list_role_policies(RoleName=role)["PolicyNames"]
    assert {p.rsplit("-", 1)[-1] for p in policies} >= {"nat", "jobs", "engine"}
