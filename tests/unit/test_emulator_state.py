"""The emulator's state survives a restart: snapshot moto's backends, forget them, load them back."""

import json
import threading

import boto3
import pytest
from moto import mock_aws
from moto.core.base_backend import BackendDict

from localdev.emulator_state import ReadWriteLock, Snapshots, is_read_only

REGION = "ap-south-1"
PASSWORD = "Str0ng-Passw0rd!"


@pytest.fixture
def aws(monkeypatch):
    for name, value in (("AWS_ACCESS_KEY_ID", "t"), ("AWS_SECRET_ACCESS_KEY", "t"),
                        ("AWS_DEFAULT_REGION", REGION)):  # fmt: skip
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


def _build() -> dict:
    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.create_table(
        TableName="t", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
    )  # fmt: skip
    ddb.put_item(TableName="t", Item={"pk": {"S": "USER#1"}, "name": {"S": "Asha"}})
    cognito = boto3.client("cognito-idp", region_name=REGION)
    pool = cognito.create_user_pool(PoolName="p")["UserPool"]["Id"]
    client = cognito.create_user_pool_client(
        UserPoolId=pool, ClientName="c", ExplicitAuthFlows=["USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    cognito.sign_up(ClientId=client, Username="asha@example.in", Password=PASSWORD)
    cognito.admin_confirm_sign_up(UserPoolId=pool, Username="asha@example.in")
    kms = boto3.client("kms", region_name=REGION)
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    sealed = kms.encrypt(KeyId=key, Plaintext=b"api-secret")["CiphertextBlob"]
    boto3.client("sqs", region_name=REGION).create_queue(QueueName="dlq")
    boto3.client("stepfunctions", region_name=REGION).create_state_machine(
        name="tick", roleArn="arn:aws:iam::123456789012:role/x",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
    )  # fmt: skip
    return {"pool": pool, "client": client, "key": key, "sealed": sealed}


def test_a_snapshot_brings_back_tables_users_keys_and_sealed_secrets(aws, tmp_path):
    made = _build()
    snapshots = Snapshots(tmp_path)
    assert snapshots.save() > 0
    BackendDict.reset()  # what a restart does to moto's memory
    assert boto3.client("dynamodb", region_name=REGION).list_tables()["TableNames"] == []

    assert snapshots.restore() >= 5
    ddb = boto3.client("dynamodb", region_name=REGION)
    item = ddb.get_item(TableName="t", Key={"pk": {"S": "USER#1"}})["Item"]
    assert item["name"] == {"S": "Asha"}
    login = boto3.client("cognito-idp", region_name=REGION).initiate_auth(
        ClientId=made["client"], AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "asha@example.in", "PASSWORD": PASSWORD},
    )  # fmt: skip
    assert login["AuthenticationResult"]["IdToken"]
    kms = boto3.client("kms", region_name=REGION)
    assert kms.decrypt(CiphertextBlob=made["sealed"])["Plaintext"] == b"api-secret"
    assert boto3.client("sqs", region_name=REGION).list_queues()["QueueUrls"]
    machines = boto3.client("stepfunctions", region_name=REGION).list_state_machines()
    assert [m["name"] for m in machines["stateMachines"]] == ["tick"]


def test_no_snapshot_restores_nothing(tmp_path):
    assert Snapshots(tmp_path).restore() == 0


def test_reads_do_not_dirty_the_state():
    assert is_read_only({"REQUEST_METHOD": "GET"})
    assert is_read_only({"REQUEST_METHOD": "POST", "HTTP_X_AMZ_TARGET": "DynamoDB_20120810.Query"})
    assert is_read_only({"REQUEST_METHOD": "POST", "HTTP_X_AMZ_TARGET": "TrentService.Decrypt"})
    assert not is_read_only(
        {"REQUEST_METHOD": "POST", "HTTP_X_AMZ_TARGET": "DynamoDB_20120810.PutItem"}
    )
    assert not is_read_only({"REQUEST_METHOD": "POST"})  # query protocols: assume a write


def test_a_writer_backs_off_while_a_request_waits_on_another():
    lock = ReadWriteLock()
    lock.acquire_read()  # e.g. a request whose task calls back into the emulator
    assert lock.acquire_write(timeout=0.05) is False
    second = threading.Thread(target=lambda: (lock.acquire_read(), lock.release_read()))
    second.start()
    second.join(timeout=1)
    assert not second.is_alive()  # the callback was not locked out
    lock.release_read()
    assert lock.acquire_write(timeout=0.05) is True
    lock.release_write()
