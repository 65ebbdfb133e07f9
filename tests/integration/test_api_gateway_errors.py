"""infra/modules/api_errors applied to the emulator: API Gateway's own answers in the API's error
envelope (issue #10). On AWS an unknown route used to answer API Gateway's 403 "Missing
Authentication Token" instead of our 404 ``{"error": ...}``, and its other 4xx / 5xx answers
(throttling, a failed Lambda; a malformed Authorization header even echoed the token) came in
API Gateway's ``{"message": ...}``.

The emulator cannot import Chalice's Swagger 2.0 body (reference/pitfalls.md), so the module is
applied here to a bare REST API, the way the generated infra/app.tf applies it to the packaged one;
test_package_aws.py validates the wiring (and the redeployment trigger) with the whole of infra/.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path

import boto3
import pytest

from localdev import terraform
from tests.conftest import REGION

MODULE = Path(terraform.INFRA) / "modules" / "api_errors"

ROOT_TF = """
terraform {{
  required_providers {{
    aws = {{ source = "hashicorp/aws", version = ">= 5.0, < 6.0" }}
  }}
}}

provider "aws" {{
  region                      = "{region}"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  endpoints {{
    apigateway = "{endpoint}"
  }}
}}

resource "aws_api_gateway_rest_api" "api" {{
  name = "{name}"
}}

module "api_errors" {{
  source      = "{module}"
  rest_api_id = aws_api_gateway_rest_api.api.id
}}

output "fingerprint" {{
  value = module.api_errors.fingerprint
}}
"""


def _terraform(work: Path, *args: str) -> str:
    env = terraform.terraform_env(work / "data")
    done = subprocess.run(
        ["terraform", f"-chdir={work}", *args, "-no-color"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_gateway_answers_come_in_the_error_envelope(emulator_url, tmp_path):
    if shutil.which("terraform") is None:
        pytest.skip("terraform is not installed")
    root = tmp_path / "root"
    root.mkdir()
    name = f"api-errors-{uuid.uuid4().hex[:8]}"
    (root / "main.tf").write_text(
        ROOT_TF.format(region=REGION, endpoint=emulator_url, module=MODULE.as_posix(), name=name)
    )
    # Two Terraform runs only (each starts the provider): the validation of the module without a
    # warning, and its wiring, are test_package_aws.py's (the whole of infra/ for an AWS stage).
    _terraform(root, "init", "-input=false")
    applied = _terraform(root, "apply", "-input=false", "-auto-approve", "-refresh=false")
    assert "fingerprint = " in applied

    gateway = boto3.client("apigateway", endpoint_url=emulator_url, region_name=REGION)
    [api_id] = [a["id"] for a in gateway.get_rest_apis(limit=500)["items"] if a["name"] == name]
    answers = {
        r["responseType"]: r
        for r in gateway.get_gateway_responses(restApiId=api_id)["items"]
        if r["responseType"]
        in {"MISSING_AUTHENTICATION_TOKEN", "THROTTLED", "REQUEST_TOO_LARGE", "DEFAULT_4XX",
            "DEFAULT_5XX"}
    }  # fmt: skip
    assert set(answers) == {
        "MISSING_AUTHENTICATION_TOKEN", "THROTTLED", "REQUEST_TOO_LARGE", "DEFAULT_4XX",
        "DEFAULT_5XX",
    }  # fmt: skip
    unknown_route = answers["MISSING_AUTHENTICATION_TOKEN"]
    assert unknown_route["statusCode"] == "404"  # not API Gateway's 403
    assert answers["THROTTLED"]["statusCode"] == "429"
    assert answers["REQUEST_TOO_LARGE"]["statusCode"] == "413"
    assert "statusCode" not in answers["DEFAULT_4XX"]  # API Gateway's own status is kept
    codes = {}
    for kind, answer in answers.items():
        headers = answer["responseParameters"]
        assert headers["gatewayresponse.header.Content-Type"] == "'application/json'"
        template = answer["responseTemplates"]["application/json"]
        assert "$" not in template, kind  # a fixed message: nothing of the request echoed
        body = json.loads(template)
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "field"}
        codes[kind] = body["error"]["code"]
    assert codes["MISSING_AUTHENTICATION_TOKEN"] == "not_found"
    assert codes["DEFAULT_5XX"] == "dependency_unavailable"
