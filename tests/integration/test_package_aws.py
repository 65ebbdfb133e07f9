"""`make package STAGE=dev` as a real account would get it: Chalice's Terraform patched so that every
name is per app and stage, every function is observed (logs kept, alarms), the periodic jobs never
overlap through async retries, the broker login redirect points at the public API, and Terraform
validates the whole of infra/ with the packaged module without a warning.

No AWS account is touched: `terraform validate` needs only the provider (the mirror on these
machines). Packaging takes a while (chalice builds the deployment zip), so it happens once.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib.adapters.brokers.registry import build_broker
from chalicelib.jobs import risk
from chalicelib.ports.broker import Credentials
from chalicelib.services.broker_sessions import BrokerSessionService
from chalicelib.settings import Settings
from localdev import package as packaging
from localdev import terraform
from tests.conftest import REGION

ROOT = Path(__file__).resolve().parents[2]
#: The measured peak of a cold risk monitor parsing a 42 MB instrument master (issue 16).
MEASURED_MONITOR_PEAK_MB = 310


@pytest.fixture(scope="module")
def packaged(tmp_path_factory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("package-dev")
    infra = work / "infra"
    shutil.copytree(
        terraform.INFRA,
        infra,
        ignore=shutil.ignore_patterns(
            "app.tf", "backend.tf", "chalice", ".terraform*", "terraform.tfstate*"
        ),
    )
    packaging.package("dev", REGION, infra_dir=infra)
    document = json.loads((infra / "chalice" / "chalice.tf.json").read_text())
    return {"infra": infra, "work": work, "document": document}


def test_terraform_validates_the_aws_stage_without_a_warning(packaged):
    if shutil.which("terraform") is None:
        pytest.skip("terraform is not installed")
    env = terraform.terraform_env(packaged["work"] / "data")
    infra = packaged["infra"]
    init = ["terraform", f"-chdir={infra}", "init", "-backend=false", "-input=false", "-no-color"]
    subprocess.run(init, env=env, check=True, capture_output=True)
    validate = subprocess.run(
        ["terraform", f"-chdir={infra}", "validate", "-json", "-no-color"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    report = json.loads(validate.stdout)
    assert report["valid"], report["diagnostics"]
    assert report["warning_count"] == 0, [d["detail"] for d in report["diagnostics"]]
    # One apply, no cycle: the handler's PUBLIC_API_URL depends on the REST API, which must not
    # depend on the handler (Terraform reports "Cycle: ..." when building the plan graph).
    graph = subprocess.run(
        ["terraform", f"-chdir={infra}", "graph", "-type=plan"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert graph.returncode == 0 and "Cycle" not in graph.stderr, graph.stderr[-2000:]
    assert "module.app.aws_lambda_function.api_handler" in graph.stdout


def test_every_name_carries_the_app_and_stage(packaged):
    resources = packaged["document"]["resource"]
    rules = resources["aws_cloudwatch_event_rule"]
    assert {r["name"] for r in rules.values()} == {
        f"${{var.name_prefix}}-{job}"
        for job in ("pre_market_readiness", "instrument_refresh", "risk_monitor",
                    "kill_switch_driver", "recovery_sweep", "end_of_day_reconciliation",
                    "notification_watch")
    }  # fmt: skip
    assert resources["aws_api_gateway_rest_api"]["rest_api"]["name"] == "${var.name_prefix}"
    for function in resources["aws_lambda_function"].values():
        assert function["function_name"].startswith("optexec-dev")
        # every setting the functions read from Terraform is wired, none left to a default
        assert set(packaging.SETTINGS_VARS) | {"STAGE", "PUBLIC_API_URL"} <= set(
            function["environment"]["variables"]
        )
    for alarm in resources["aws_cloudwatch_metric_alarm"].values():
        assert alarm["alarm_name"].startswith(("optexec-dev", "${var.name_prefix}-"))


def test_every_function_has_logs_kept_and_three_alarms(packaged):
    resources = packaged["document"]["resource"]
    functions = resources["aws_lambda_function"]
    alarms = resources["aws_cloudwatch_metric_alarm"]
    logs = resources["aws_cloudwatch_log_group"]
    assert len(functions) == 13
    for key, function in functions.items():
        assert logs[key]["name"] == f"/aws/lambda/{function['function_name']}"
        assert logs[key]["retention_in_days"] == "${var.log_retention_days}"
        assert function["depends_on"] == [f"aws_cloudwatch_log_group.{key}"]
        assert alarms[f"{key}-errors"]["metric_name"] == "Errors"
        assert alarms[f"{key}-throttles"]["metric_name"] == "Throttles"
        duration = alarms[f"{key}-duration"]
        assert duration["statistic"] == "Maximum"
        assert duration["threshold"] == int(function["timeout"] * 1000 * 0.8)
    for key in resources["aws_cloudwatch_event_rule"]:
        job = key.removesuffix("-event")
        assert alarms[f"{job}-schedule"]["metric_name"] == "FailedInvocations"
    for alarm in alarms.values():
        assert alarm["alarm_actions"] == ["${var.alarm_topic_arn}"]


def test_the_risk_monitor_is_sized_and_bounded(packaged):
    resources = packaged["document"]["resource"]
    monitor = resources["aws_lambda_function"]["risk_monitor"]
    assert monitor["memory_size"] >= 2 * MEASURED_MONITOR_PEAK_MB
    # the last cycle starts with a cold cycle's worth of the timeout left
    last_start = risk.LAMBDA_RUN.total_seconds()
    assert monitor["timeout"] - last_start >= risk.CYCLE_RESERVE.total_seconds()
    retries = resources["aws_lambda_function_event_invoke_config"]
    assert set(retries) == packaging.PERIODIC
    assert all(r["maximum_retry_attempts"] == 0 for r in retries.values())


def test_the_broker_login_redirect_is_the_public_api_on_an_aws_stage(packaged):
    document = packaged["document"]
    handler = document["resource"]["aws_lambda_function"]["api_handler"]
    expression = handler["environment"]["variables"]["PUBLIC_API_URL"]
    # No second apply: the API's integrations name the handler by ARN, not through the function
    # resource, so the function may depend on the REST API (no cycle).
    assert "aws_lambda_function.api_handler" not in document["locals"]["chalice_api_swagger"]
    assert "aws_api_gateway_rest_api.rest_api.id" in expression
    # What Terraform makes of it with no custom domain, for a REST API with id a1b2c3d4e5:
    url = (
        expression.split(' : "', 1)[1].rsplit('"}', 1)[0]
        .replace("${aws_api_gateway_rest_api.rest_api.id}", "a1b2c3d4e5")
        .replace("${data.aws_region.chalice.name}", REGION)
        .replace("${data.aws_partition.chalice.dns_suffix}", "amazonaws.com")
    )  # fmt: skip
    assert url == f"https://a1b2c3d4e5.execute-api.{REGION}.amazonaws.com/api"
    settings = Settings.from_env({"STAGE": "dev", "PUBLIC_API_URL": url})
    sessions = BrokerSessionService(
        repo=None, cipher=None, clock=None, public_api_url=settings.public_api_url,
        hosts={}, build_broker=build_broker,
    )  # type: ignore[arg-type]  # fmt: skip
    callback = sessions.callback_url("upstox")
    broker = sessions.build_broker(
        "upstox",
        Credentials(api_key="k", api_secret="s", client_id="C1", redirect_url=callback),
        account="A1",
    )
    login = urlsplit(broker.login_url("state-1"))
    assert parse_qs(login.query)["redirect_uri"] == [f"{url}/brokers/upstox/callback"]
    # ... and a stage whose URL would send the trader back to a loopback address is refused
    with pytest.raises(ValueError, match="PUBLIC_API_URL"):
        Settings.from_env({"STAGE": "dev"})


def test_the_functions_know_the_web_apps_origin(packaged):
    """CORS locked to the app and broker logins landing back in it need WEB_APP_URL on AWS too:
    the CloudFront address of infra/web.tf, wired in the same apply."""
    handler = packaged["document"]["resource"]["aws_lambda_function"]["api_handler"]
    assert handler["environment"]["variables"]["WEB_APP_URL"] == "${var.web_app_url}"
    app_tf = (packaged["infra"] / "app.tf").read_text()
    assert (
        'web_app_url = var.web_app_enabled ? "https://${aws_cloudfront_distribution.web[0]'
        in app_tf
    )


def test_notifications_are_delivered_through_the_queue_one_consumer_at_a_time(packaged):
    resources = packaged["document"]["resource"]
    consumer = resources["aws_lambda_function"]["deliver_notifications"]
    assert consumer["reserved_concurrent_executions"] == 1
    mapping = resources["aws_lambda_event_source_mapping"]["deliver_notifications"]
    assert mapping["event_source_arn"] == "${var.notification_queue_arn}"
    assert mapping["function_name"] == "${aws_lambda_function.deliver_notifications.arn}"
    # the queue's visibility timeout covers a whole run of the consumer, six times over
    tf = (packaged["infra"] / "notifications.tf").read_text()
    assert f"notification_visibility_seconds = 6 * {consumer['timeout']}" in tf
    app_tf = (packaged["infra"] / "app.tf").read_text()
    assert "notification_queue_arn = aws_sqs_queue.notifications.arn" in app_tf


def test_the_webhook_secret_reaches_the_functions_as_a_parameter_name_only(packaged):
    functions = packaged["document"]["resource"]["aws_lambda_function"]
    for function in functions.values():
        variables = function["environment"]["variables"]
        assert variables["TELEGRAM_WEBHOOK_SECRET_PARAMETER"] == (
            "${var.telegram_webhook_secret_parameter}"
        )
        assert "TELEGRAM_WEBHOOK_SECRET" not in variables  # the value never is an env variable
        assert "TELEGRAM_BOT_TOKEN" not in variables
    app_tf = (packaged["infra"] / "app.tf").read_text()
    assert "aws_ssm_parameter.telegram_webhook_secret[0].name" in app_tf
    assert "set_telegram_webhook" in functions
