"""An IAM audit: the AWS calls the code made, recorded by the emulator, evaluated against the
policies Terraform declared (as applied to the emulator, which enforces none of them).

The emulator (moto) records every request while asked to; each becomes (IAM action, resource ARN)
pairs the way AWS authorizes them: a DynamoDB transaction needs PutItem / UpdateItem / DeleteItem /
ConditionCheckItem per item, a Query on an index is authorized on ``<table>/index/<name>``, a KMS
call on the key's ARN whatever alias or id the caller named. A pair is allowed when an Allow
statement's action and resource patterns match it (no Deny statements, no conditions: the
policies in infra/ use neither, and the audit refuses them rather than guess).
"""

from __future__ import annotations

import base64
import json
import urllib.request
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import parse_qs, unquote

#: Cognito user-pool APIs that AWS serves without IAM authorization (the client id is the key).
UNAUTHENTICATED = {
    "cognito-idp:SignUp",
    "cognito-idp:ConfirmSignUp",
    "cognito-idp:InitiateAuth",
    "cognito-idp:RespondToAuthChallenge",
    "cognito-idp:ForgotPassword",
    "cognito-idp:ConfirmForgotPassword",
    "cognito-idp:GetUser",
}
TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}


@dataclass(frozen=True)
class Call:
    action: str  # service:Operation, or unsigned:<what> for a request without credentials
    resource: str  # an ARN, or "*" when the operation has none


def recorder(endpoint: str, command: str) -> bytes:
    method = "GET" if command == "download-recording" else "POST"
    request = urllib.request.Request(
        f"{endpoint}/moto-api/recorder/{command}", method=method, data=None
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read()


def recorded(endpoint: str) -> list[dict[str, Any]]:
    raw = recorder(endpoint, "download-recording").decode()
    return [json.loads(line) for line in raw.splitlines() if line.strip()]


class Resolver:
    """Turns names in requests (table, key id or alias, pool id) into the ARNs IAM sees."""

    def __init__(self, region: str, account: str, kms_keys: dict[str, str]) -> None:
        self.region = region
        self.account = account
        self.kms_keys = kms_keys  # key id, alias name or ARN -> key ARN

    def table(self, name: str) -> str:
        if name.startswith("arn:"):
            return name
        return f"arn:aws:dynamodb:{self.region}:{self.account}:table/{name}"

    def key(self, key_id: str) -> str:
        return self.kms_keys.get(key_id, key_id)

    def ses_identity(self, source: str) -> str:
        """SES authorizes a send on the identity of its From address ("Name <a@b>" or "a@b")."""
        address = source.rsplit("<", 1)[-1].rstrip(">").strip()
        return f"arn:aws:ses:{self.region}:{self.account}:identity/{address}"

    def queue(self, url: str) -> str:
        """SQS authorizes on the queue's ARN; requests name it by URL (.../<account>/<name>)."""
        if url.startswith("arn:"):
            return url
        account, name = url.rstrip("/").rsplit("/", 2)[-2:]
        return f"arn:aws:sqs:{self.region}:{account}:{name}"

    def pool(self, pool_id: str) -> str:
        return f"arn:aws:cognito-idp:{self.region}:{self.account}:userpool/{pool_id}"


def calls(entries: Iterable[dict[str, Any]], resolve: Resolver) -> Iterator[Call]:
    for entry in entries:
        headers = {k.lower(): v for k, v in entry.get("headers", {}).items()}
        body = entry.get("body") or ""
        if entry.get("body_encoded"):
            body = base64.b64decode(body).decode("utf-8", "replace")
        service = _service(headers)
        target = headers.get("x-amz-target", "")
        if service == "unsigned":  # no credentials, so no IAM policy is evaluated on AWS either
            what = target or f"{entry.get('method')} {entry.get('url', '').split('?', 1)[0]}"
            yield Call(f"unsigned:{what}", "*")
            continue
        if target:
            operation = target.rsplit(".", 1)[-1]
            payload = json.loads(body) if body.strip() else {}
            yield from _json_calls(service, operation, payload, resolve)
        else:
            form = {k: v[0] for k, v in parse_qs(body).items()}
            operation = form.get("Action", f"{entry.get('method')} {unquote(entry.get('url', ''))}")
            if service in ("ses", "email") and form.get("Source"):
                resource = resolve.ses_identity(form["Source"])
            elif service == "sqs" and form.get("QueueUrl"):
                resource = resolve.queue(form["QueueUrl"])
            else:
                resource = form.get("TopicArn") or form.get("QueueUrl") or form.get("Name") or "*"
            yield Call(f"{'ses' if service == 'email' else service}:{operation}", resource)


def _service(headers: dict[str, str]) -> str:
    """The signing service from the SigV4 credential scope (<key>/<date>/<region>/<service>/...)."""
    authorization = headers.get("authorization", "")
    if "Credential=" in authorization:
        scope = authorization.split("Credential=", 1)[1].split(",", 1)[0].split("/")
        if len(scope) >= 4:
            return scope[3]
        return "unknown"
    return "unsigned"


def _json_calls(
    service: str, operation: str, payload: dict[str, Any], resolve: Resolver
) -> Iterator[Call]:
    if service == "dynamodb":
        if operation.startswith("Transact"):
            for item in payload.get("TransactItems", []):
                for kind, request in item.items():
                    yield Call(
                        f"dynamodb:{TRANSACT_ACTIONS[kind]}", resolve.table(request["TableName"])
                    )
            return
        if operation.startswith("Batch"):
            for table in payload.get("RequestItems", {}):
                yield Call(f"dynamodb:{operation}", resolve.table(table))
            return
        table = resolve.table(payload.get("TableName", "*"))
        if payload.get("IndexName"):
            table = f"{table}/index/{payload['IndexName']}"
        yield Call(f"dynamodb:{operation}", table)
    elif service == "kms":
        key = payload.get("KeyId") or _ciphertext_key(payload.get("CiphertextBlob", ""))
        yield Call(f"kms:{operation}", resolve.key(key))
    elif service == "cognito-idp":
        pool = payload.get("UserPoolId")
        yield Call(f"cognito-idp:{operation}", resolve.pool(pool) if pool else "*")
    elif service == "ssm":
        yield Call(f"ssm:{operation}", payload.get("Name", "*"))
    elif service == "sqs":
        url = payload.get("QueueUrl")
        yield Call(f"sqs:{operation}", resolve.queue(url) if url else "*")
    else:
        yield Call(f"{service}:{operation}", "*")


def _ciphertext_key(blob: str) -> str:
    """A symmetric Decrypt may omit KeyId: AWS authorizes it on the key the ciphertext names. The
    emulator's ciphertext starts with that key's id (36 characters); anything else stays '*',
    which no policy here allows, so an unreadable call fails the audit rather than passing it."""
    try:
        key_id = str(uuid.UUID(base64.b64decode(blob)[:36].decode("ascii")))
    except (ValueError, UnicodeDecodeError):
        return "*"
    return key_id


def statements(documents: Iterable[dict[str, Any] | str]) -> list[dict[str, Any]]:
    """Allow statements of policy documents (as IAM returns them: JSON, maybe URL-encoded)."""
    found = []
    for document in documents:
        if isinstance(document, str):
            document = json.loads(unquote(document))
        listed = document["Statement"]
        for statement in listed if isinstance(listed, list) else [listed]:
            if statement.get("Effect") != "Allow" or "Condition" in statement:
                raise ValueError(f"the audit evaluates plain Allow statements only: {statement}")
            found.append(statement)
    return found


def allowed(policy: list[dict[str, Any]], call: Call) -> bool:
    for statement in policy:
        actions = _listed(statement.get("Action"))
        resources = _listed(statement.get("Resource"))
        if any(fnmatchcase(call.action.lower(), a.lower()) for a in actions) and any(
            fnmatchcase(call.resource, r) for r in resources
        ):
            return True
    return False


def _listed(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def denied(policy: list[dict[str, Any]], made: Iterable[Call]) -> list[Call]:
    """The calls the policy would refuse on AWS (each distinct call once)."""
    return sorted(
        {
            c
            for c in made
            if c.action not in UNAUTHENTICATED
            and not c.action.startswith("unsigned:")
            and not allowed(policy, c)
        },
        key=lambda c: (c.action, c.resource),
    )
