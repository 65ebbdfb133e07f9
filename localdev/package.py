"""`make package`: `chalice package --pkg-format terraform` into infra/chalice, patched to fit.

Chalice emits Terraform for provider 3/4 and Terraform < 1.4 with a deprecated null_data_source, and
cannot merge our templates; so the generated JSON is patched here and used as a module of infra/
(infra/app.tf, generated too, wires it to the table, pool, key and role that infra/ owns):
- version caps removed (aws ">= 5.0, < 6.0"), the null provider and its data source dropped;
- every function gets the settings variables and the role that Terraform owns;
- every name is per app and stage: Chalice names its EventBridge rules `risk_monitor-event` and its
  REST API `optexec`, so two stages in one account would overwrite each other's schedules;
- each function gets its log group (with retention), error / throttle / duration alarms (duration:
  80 % of its own timeout), and each schedule an alarm on failed invocations; the periodic jobs
  (every minute or five) get no async retries: the next run is the retry, a retry would overlap it;
- PUBLIC_API_URL (the broker login's redirect) is the custom domain when given, else the API
  Gateway URL built from the REST API's id: the API's integrations name the handler by its ARN,
  not through the function resource, so the function can depend on the API with no cycle and
  one apply sets it;
- API Gateway's own answers (an unknown route's 403 "Missing Authentication Token", throttling,
  its 5xx) are rewritten into the API's error envelope by infra/modules/api_errors, wired in by
  app.tf; the deployment is redone when they change (its ``gateway_responses`` trigger);
- on the emulator stage (local) the API Gateway resources are dropped: the emulator only imports
  OpenAPI 3 bodies and Chalice emits Swagger 2.0; locally the API is `chalice local`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SETTINGS_VARS = {
    "TABLE_NAME": "table_name",
    "USER_POOL_ID": "user_pool_id",
    "USER_POOL_CLIENT_ID": "user_pool_client_id",
    "SECRETS_KMS_KEY_ID": "secrets_kms_key_id",
    "ALARM_TOPIC_ARN": "alarm_topic_arn",
    "NOTIFICATION_EMAIL_SENDER": "notification_email_sender",
    "TELEGRAM_BOT_TOKEN_PARAMETER": "telegram_bot_token_parameter",
    "TELEGRAM_BOT_USERNAME": "telegram_bot_username",
    "TELEGRAM_WEBHOOK_SECRET_PARAMETER": "telegram_webhook_secret_parameter",
    "NOTIFICATION_QUEUE_URL": "notification_queue_url",
    "WEB_APP_URL": "web_app_url",
}
EMULATED_STAGES = {"local"}
#: Scheduled functions that run every minute or five: no async retries (the next run is the retry).
PERIODIC = {"risk_monitor", "kill_switch_driver", "recovery_sweep", "notification_watch"}
#: The SQS consumer of the notification queue: one at a time, so a chat is paced by one process
#: and a notification is never sent by two consumers at once (docs/notifications.md).
NOTIFICATION_CONSUMER = "deliver_notifications"
NOTIFICATION_BATCH = 10
#: A duration alarm fires at this share of the function's timeout.
DURATION_ALARM_SHARE = 0.8
LOCAL_API_URL = "http://127.0.0.1:8000"  # `chalice local` (localdev/run.py sets its own port)
API_URL = (
    "https://${aws_api_gateway_rest_api.rest_api.id}.execute-api."
    "${data.aws_region.chalice.name}.${data.aws_partition.chalice.dns_suffix}/{stage}"
)


def patch(document: dict[str, Any], stage: str, api_stage: str = "api") -> dict[str, Any]:
    terraform = document.setdefault("terraform", {})
    terraform.pop("required_version", None)
    terraform["required_providers"] = {
        "aws": {"source": "hashicorp/aws", "version": ">= 5.0, < 6.0"}
    }
    data = document.get("data", {})
    data.pop("null_data_source", None)
    resources = document["resource"]
    functions = resources["aws_lambda_function"]
    api_url = None if stage in EMULATED_STAGES else API_URL.replace("{stage}", api_stage)
    for key, function in functions.items():
        variables = function.setdefault("environment", {}).setdefault("variables", {})
        variables["STAGE"] = stage
        for env_name, var_name in SETTINGS_VARS.items():
            variables[env_name] = f"${{var.{var_name}}}"
        variables["PUBLIC_API_URL"] = (
            f'${{var.public_api_url != "" ? var.public_api_url : "{api_url}"}}'
            if api_url
            else f'${{var.public_api_url != "" ? var.public_api_url : "{LOCAL_API_URL}"}}'
        )
        function["role"] = "${var.lambda_role_arn}"
        # Behind the static egress IP when infra/ enables it (empty lists: no VPC).
        function["dynamic"] = {
            "vpc_config": {
                "for_each": "${length(var.lambda_subnet_ids) > 0 ? [1] : []}",
                "content": {
                    "subnet_ids": "${var.lambda_subnet_ids}",
                    "security_group_ids": "${var.lambda_security_group_ids}",
                },
            }
        }
        _observe(resources, key, function)
    for key, rule in resources.get("aws_cloudwatch_event_rule", {}).items():
        job = key.removesuffix("-event")
        rule["name"] = f"${{var.name_prefix}}-{job}"
        rule["description"] = f"{job} ({stage})"
        resources.setdefault("aws_cloudwatch_metric_alarm", {})[f"{job}-schedule"] = _alarm(
            f"${{var.name_prefix}}-{job}-schedule-failed",
            f"The {job} schedule could not invoke its function.",
            "AWS/Events", "FailedInvocations", {"RuleName": f"${{aws_cloudwatch_event_rule.{key}.name}}"},
        )  # fmt: skip
    if NOTIFICATION_CONSUMER in functions:
        functions[NOTIFICATION_CONSUMER]["reserved_concurrent_executions"] = 1
        resources.setdefault("aws_lambda_event_source_mapping", {})[NOTIFICATION_CONSUMER] = {
            "event_source_arn": "${var.notification_queue_arn}",
            "function_name": f"${{aws_lambda_function.{NOTIFICATION_CONSUMER}.arn}}",
            "batch_size": NOTIFICATION_BATCH,
            "maximum_batching_window_in_seconds": 1,
        }
    for key in PERIODIC & set(functions):
        resources.setdefault("aws_lambda_function_event_invoke_config", {})[key] = {
            "function_name": f"${{aws_lambda_function.{key}.function_name}}",
            "maximum_retry_attempts": 0,
            "maximum_event_age_in_seconds": 60,
        }
    if stage not in EMULATED_STAGES and "aws_api_gateway_rest_api" in resources:
        resources["aws_api_gateway_rest_api"]["rest_api"]["name"] = "${var.name_prefix}"
        # The deployment's stage_name and invoke_url are deprecated in provider 5: an explicit
        # stage, and a redeployment whenever the API's definition changes.
        deployment = resources["aws_api_gateway_deployment"]["rest_api"]
        deployment.pop("stage_name", None)
        deployment.pop("stage_description", None)
        # Gateway responses (infra/modules/api_errors) take effect only in a new deployment too.
        deployment["triggers"] = {
            "redeployment": "${md5(local.chalice_api_swagger)}",
            "gateway_responses": "${var.gateway_responses_fingerprint}",
        }
        # The API names the handler by ARN (below), so Terraform no longer orders the function
        # first by itself: deploy the API only once the function exists.
        deployment["depends_on"] = ["aws_lambda_function.api_handler"]
        resources["aws_api_gateway_stage"] = {
            "rest_api": {
                "rest_api_id": "${aws_api_gateway_rest_api.rest_api.id}",
                "deployment_id": "${aws_api_gateway_deployment.rest_api.id}",
                "stage_name": api_stage,
            }
        }
        swagger = document["locals"]["chalice_api_swagger"]
        handler = functions["api_handler"]["function_name"]
        document["locals"]["chalice_api_swagger"] = swagger.replace(
            "${aws_lambda_function.api_handler.invoke_arn}",
            "arn:${data.aws_partition.chalice.partition}:apigateway:"
            "${data.aws_region.chalice.name}:lambda:path/2015-03-31/functions/"
            "arn:${data.aws_partition.chalice.partition}:lambda:${data.aws_region.chalice.name}:"
            f"${{data.aws_caller_identity.chalice.account_id}}:function:{handler}/invocations",
        )
    if stage in EMULATED_STAGES:
        for kind in ("aws_api_gateway_rest_api", "aws_api_gateway_deployment"):
            resources.pop(kind, None)
        permissions = resources.get("aws_lambda_permission", {})
        permissions.pop("rest_api_invoke", None)
        if not permissions:
            resources.pop("aws_lambda_permission", None)
        document.get("locals", {}).pop("chalice_api_swagger", None)
        if not document.get("locals"):
            document.pop("locals", None)
        document.pop("output", None)
    document.setdefault("output", {})["function_arns"] = {
        "value": {
            name: f"${{aws_lambda_function.{name}.arn}}"
            for name in document["resource"]["aws_lambda_function"]
        }
    }
    return document


def _observe(resources: dict[str, Any], key: str, function: dict[str, Any]) -> None:
    """The function's log group (created before it, with retention) and its three alarms."""
    name = function["function_name"]
    resources.setdefault("aws_cloudwatch_log_group", {})[key] = {
        "name": f"/aws/lambda/{name}",
        "retention_in_days": "${var.log_retention_days}",
    }
    function["depends_on"] = [f"aws_cloudwatch_log_group.{key}"]
    timeout_ms = int(function.get("timeout", 60)) * 1000
    alarms = resources.setdefault("aws_cloudwatch_metric_alarm", {})
    dimensions = {"FunctionName": f"${{aws_lambda_function.{key}.function_name}}"}
    alarms[f"{key}-errors"] = _alarm(
        f"{name}-errors", f"Lambda {key} raised errors.", "AWS/Lambda", "Errors", dimensions
    )
    alarms[f"{key}-throttles"] = _alarm(
        f"{name}-throttles", f"Lambda {key} was throttled: raise its concurrency.",
        "AWS/Lambda", "Throttles", dimensions,
    )  # fmt: skip
    alarms[f"{key}-duration"] = _alarm(
        f"{name}-duration",
        f"Lambda {key} ran past {DURATION_ALARM_SHARE:.0%} of its {timeout_ms // 1000} s timeout.",
        "AWS/Lambda", "Duration", dimensions, statistic="Maximum",
        threshold=int(timeout_ms * DURATION_ALARM_SHARE),
    )  # fmt: skip


def _alarm(
    name: str,
    description: str,
    namespace: str,
    metric: str,
    dimensions: dict[str, str],
    *,
    statistic: str = "Sum",
    threshold: int = 0,
) -> dict[str, Any]:
    return {
        "alarm_name": name,
        "alarm_description": description,
        "namespace": namespace,
        "metric_name": metric,
        "dimensions": dimensions,
        "statistic": statistic,
        "period": 60,
        "evaluation_periods": 1,
        "threshold": threshold,
        "comparison_operator": "GreaterThanThreshold",
        "treat_missing_data": "notBreaching",
        "alarm_actions": ["${var.alarm_topic_arn}"],
    }


VARIABLES_TF = """# Generated by `make package`: what the Chalice module needs from infra/.
variable "lambda_role_arn" {
  description = "Execution role owned by infra/iam.tf."
  type        = string
}

variable "name_prefix" {
  description = "<app>-<stage>[suffix]: every rule, alarm and the REST API are named with it."
  type        = string
}

variable "log_retention_days" {
  description = "How long the functions' CloudWatch logs are kept."
  type        = number
}

variable "public_api_url" {
  description = "The API's public base URL (custom domain); empty: the API Gateway URL."
  type        = string
  default     = ""
}

variable "gateway_responses_fingerprint" {
  description = "infra/modules/api_errors' fingerprint: the API is redeployed when it changes."
  type        = string
  default     = ""
}

variable "lambda_subnet_ids" {
  description = "Private subnets behind the static egress IP (infra/network.tf); empty: no VPC."
  type        = list(string)
  default     = []
}

variable "lambda_security_group_ids" {
  description = "Security groups for the Lambdas in the VPC."
  type        = list(string)
  default     = []
}

variable "notification_queue_arn" {
  description = "The notification delivery queue (infra/notifications.tf), mapped to deliver_notifications."
  type        = string
}
""" + "".join(
    f'\nvariable "{var}" {{\n  description = "Setting {env} for the Lambda functions."\n  type        = string\n}}\n'
    for env, var in SETTINGS_VARS.items()
)

APP_TF_TEMPLATE = """# Generated by `make package` (stage {stage}): the Chalice functions as a module of infra/.
module "app" {{
  source              = "./chalice"
  lambda_role_arn     = aws_iam_role.lambda.arn
  table_name          = aws_dynamodb_table.main.name
  user_pool_id        = aws_cognito_user_pool.users.id
  user_pool_client_id = aws_cognito_user_pool_client.api.id
  secrets_kms_key_id  = aws_kms_key.secrets.key_id
  alarm_topic_arn     = aws_sns_topic.alarms.arn
  # Empty when e-mail or Telegram notifications are off (infra/notifications.tf).
  notification_email_sender    = local.email_enabled ? aws_ses_email_identity.notifications[0].email : ""
  telegram_bot_token_parameter = local.telegram_enabled ? aws_ssm_parameter.telegram_bot_token[0].name : ""
  telegram_bot_username        = var.telegram_bot_username
  telegram_webhook_secret_parameter = local.telegram_enabled ? aws_ssm_parameter.telegram_webhook_secret[0].name : ""
  # Notification delivery through SQS (infra/notifications.tf).
  notification_queue_url = aws_sqs_queue.notifications.url
  notification_queue_arn = aws_sqs_queue.notifications.arn
  # The web app's origin (infra/web.tf): CORS is locked to it and broker logins land back in it.
  web_app_url = var.web_app_enabled ? "https://${{aws_cloudfront_distribution.web[0].domain_name}}" : ""
  name_prefix         = local.name
  log_retention_days  = var.log_retention_days
  public_api_url      = local.public_api_url
  # Empty unless static_egress_ip = true (infra/network.tf).
  lambda_subnet_ids         = aws_subnet.private[*].id
  lambda_security_group_ids = aws_security_group.lambda[*].id{api_errors_input}
}}

output "function_arns" {{
  description = "ARNs of the Chalice Lambda functions."
  value       = module.app.function_arns
}}
{api_output}"""

API_ERRORS_INPUT = """
  # API Gateway's own answers (unknown route, throttling...) in the API's error envelope.
  gateway_responses_fingerprint = module.api_errors.fingerprint"""

API_OUTPUT = """
module "api_errors" {
  source      = "./modules/api_errors"
  rest_api_id = module.app.RestAPIId
}

output "api_url" {
  description = "The API's public base URL (PUBLIC_API_URL of every function): the custom domain when api_domain_name is set, else the API Gateway endpoint."
  value       = local.public_api_url != "" ? local.public_api_url : module.app.EndpointURL
}

# A custom domain for the API (api_domain_name + a regional ACM certificate): point a DNS record
# (CNAME or alias) at the output api_domain_target.
resource "aws_api_gateway_domain_name" "api" {
  count                    = var.api_domain_name == "" ? 0 : 1
  domain_name              = var.api_domain_name
  regional_certificate_arn = var.api_certificate_arn
  security_policy          = "TLS_1_2"
  endpoint_configuration {
    types = ["REGIONAL"]
  }
  lifecycle {
    precondition {
      condition     = var.api_certificate_arn != ""
      error_message = "api_certificate_arn (a regional ACM certificate) is required with api_domain_name."
    }
  }
}

resource "aws_api_gateway_base_path_mapping" "api" {
  count       = var.api_domain_name == "" ? 0 : 1
  api_id      = module.app.RestAPIId
  stage_name  = module.app.ApiStage
  domain_name = aws_api_gateway_domain_name.api[0].domain_name
}

output "api_domain_target" {
  description = "Where the custom domain's DNS record points (empty without api_domain_name)."
  value       = var.api_domain_name == "" ? "" : aws_api_gateway_domain_name.api[0].regional_domain_name
}
"""


def package(stage: str, region: str, infra_dir: Path = ROOT / "infra") -> Path:
    """Package the app into <infra_dir>/chalice and wire it in with <infra_dir>/app.tf."""
    chalice = Path(sys.executable).parent / "chalice"
    module_dir = infra_dir / "chalice"
    shutil.rmtree(module_dir, ignore_errors=True)
    env = {**os.environ, "AWS_DEFAULT_REGION": region}
    subprocess.run(
        [str(chalice), "--project-dir", str(ROOT), "package", "--pkg-format", "terraform",
         "--stage", stage, str(module_dir)],
        check=True,
        env=env,
    )  # fmt: skip
    generated = module_dir / "chalice.tf.json"
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    api_stage = config.get("stages", {}).get(stage, {}).get("api_gateway_stage", "api")
    document = patch(json.loads(generated.read_text()), stage, api_stage)
    if stage not in EMULATED_STAGES:
        document["output"].update(
            {
                "EndpointURL": {"value": "${aws_api_gateway_stage.rest_api.invoke_url}"},
                "RestAPIId": {"value": "${aws_api_gateway_rest_api.rest_api.id}"},
                "ApiStage": {"value": "${aws_api_gateway_stage.rest_api.stage_name}"},
            }
        )
    generated.write_text(json.dumps(document, indent=2))
    (module_dir / "variables.tf").write_text(VARIABLES_TF)
    api_output = "" if stage in EMULATED_STAGES else API_OUTPUT
    api_errors_input = "" if stage in EMULATED_STAGES else API_ERRORS_INPUT
    (infra_dir / "app.tf").write_text(
        APP_TF_TEMPLATE.format(
            stage=stage, api_output=api_output, api_errors_input=api_errors_input
        )
    )
    print(f"package: {module_dir} (stage {stage}) and app.tf written")
    return module_dir


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="localdev.package")
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--region", default="ap-south-1")
    args = parser.parse_args(argv)
    package(args.stage, args.region)


if __name__ == "__main__":
    main()
