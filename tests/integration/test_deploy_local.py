"""`make deploy STAGE=local` end to end: chalice package, the patch step, and Terraform applying
infra/ with the packaged Lambda functions to the emulator."""

from __future__ import annotations

import json
import shutil
import subprocess

import boto3
import pytest

from localdev import terraform
from localdev.package import package
from tests.conftest import REGION


@pytest.fixture(scope="module")
def deployed(emulator_url, tmp_path_factory):
    work = tmp_path_factory.mktemp("deploy")
    infra = work / "infra"
    shutil.copytree(
        terraform.INFRA,
        infra,
        ignore=shutil.ignore_patterns(
            "app.tf", "backend.tf", "chalice", ".terraform*", "terraform.tfstate*"
        ),
    )
    package("local", REGION, infra_dir=infra)
    outputs = terraform.apply(
        "local", emulator_url, name_suffix="-deploy", work_dir=work / "tf", infra_dir=infra,
        extra_vars={"region": REGION, "tick_schedule_enabled": "false", "static_egress_ip": "true"},
    )  # fmt: skip
    return {**outputs, "_infra": infra, "_data": work / "tf" / "data"}


def test_packaged_functions_are_created_with_the_platform_settings(deployed, emulator_url):
    client = boto3.client("lambda", endpoint_url=emulator_url, region_name=REGION)
    arns = deployed["function_arns"]
    assert set(arns) == {
        "api_handler",
        "plan_tick",
        "fire_batch",
        "settle_slot",
        "end_of_day_reconciliation",
        "instrument_refresh",
        "risk_monitor",
        "kill_switch_driver",
        "pre_market_readiness",
        "recovery_sweep",
        "deliver_notifications",
        "set_telegram_webhook",
        "notification_watch",
    }
    for name, expected in (("plan_tick", "app.plan_tick"), ("fire_batch", "app.fire_batch")):
        config = client.get_function_configuration(FunctionName=arns[name])
        assert config["Handler"] == expected
        assert config["Runtime"] == "python3.11"
        assert config["Role"] == deployed["lambda_role_arn"]
        variables = config["Environment"]["Variables"]
        assert variables["TABLE_NAME"] == deployed["table_name"]
        assert variables["USER_POOL_ID"] == deployed["user_pool_id"]
        assert variables["SECRETS_KMS_KEY_ID"] == deployed["secrets_kms_key_id"]
        # broker-facing functions leave through the static egress IP
        assert sorted(config["VpcConfig"]["SubnetIds"]) == sorted(deployed["lambda_subnet_ids"])
    # the tick state machine invokes exactly these functions
    names = deployed["lambda_function_names"]
    assert arns["plan_tick"].endswith(":function:" + names["plan"])
    assert arns["fire_batch"].endswith(":function:" + names["fire"])
    assert arns["settle_slot"].endswith(":function:" + names["settle"])
    assert arns["api_handler"].endswith(":function:" + names["api"])


def test_schedules_alarms_and_logs_are_named_per_app_and_stage(deployed, emulator_url):
    def client(service):
        return boto3.client(service, endpoint_url=emulator_url, region_name=REGION)

    prefix = "optexec-local-deploy"  # <app>-<stage><suffix>: a second stage never collides
    rules = {r["Name"] for r in client("events").list_rules(NamePrefix=prefix)["Rules"]}
    assert f"{prefix}-risk_monitor" in rules and f"{prefix}-end_of_day_reconciliation" in rules
    assert len(rules) == 7
    alarms = {
        a["AlarmName"]: a
        for a in client("cloudwatch").describe_alarms(AlarmNamePrefix="optexec-local")[
            "MetricAlarms"
        ]
    }
    for function in deployed["function_arns"].values():
        name = function.rsplit(":", 1)[-1]
        assert {f"{name}-errors", f"{name}-throttles", f"{name}-duration"} <= set(alarms), name
    monitor = client("lambda").get_function_configuration(
        FunctionName=deployed["function_arns"]["risk_monitor"]
    )
    assert alarms["optexec-local-risk_monitor-duration"]["Threshold"] == monitor["Timeout"] * 800
    groups = client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/optexec-local")
    kept = {g["logGroupName"]: g.get("retentionInDays") for g in groups["logGroups"]}
    assert kept["/aws/lambda/optexec-local-risk_monitor"] == 30
    retries = client("lambda").get_function_event_invoke_config(
        FunctionName=deployed["function_arns"]["risk_monitor"]
    )
    assert retries["MaximumRetryAttempts"] == 0
    # notifications: the delivery queue feeds its consumer, one at a time
    [mapping] = client("lambda").list_event_source_mappings(
        FunctionName=deployed["function_arns"]["deliver_notifications"]
    )["EventSourceMappings"]
    assert mapping["EventSourceArn"] == deployed["notification_queue_arn"]
    consumer = client("lambda").get_function_configuration(
        FunctionName=deployed["function_arns"]["deliver_notifications"]
    )
    assert (
        consumer["Environment"]["Variables"]["NOTIFICATION_QUEUE_URL"]
        == (deployed["notification_queue_url"])
    )


def test_terraform_validates_the_emulator_stage_without_a_warning(deployed):
    validate = subprocess.run(
        ["terraform", f"-chdir={deployed['_infra']}", "validate", "-json", "-no-color"],
        env=terraform.terraform_env(deployed["_data"]), capture_output=True, text=True, check=False,
    )  # fmt: skip
    report = json.loads(validate.stdout)
    assert report["valid"] and report["warning_count"] == 0, report["diagnostics"]


def test_a_package_for_aws_is_refused_on_the_emulator(tmp_path):
    infra = tmp_path / "infra"
    infra.mkdir()
    (infra / "app.tf").write_text("# Generated by `make package` (stage prod): ...\n")
    with pytest.raises(SystemExit, match="packaged for stage 'prod'"):
        terraform._check_packaged_stage(infra, "local")
