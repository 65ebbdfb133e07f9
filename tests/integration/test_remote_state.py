"""`make bootstrap` against the emulator's S3: the state bucket, versioned, encrypted and private,
created once; a second run changes nothing."""

from __future__ import annotations

import boto3

from localdev import remote_state
from tests.conftest import REGION


def test_bootstrap_creates_the_state_bucket_once(emulator_url):
    s3, bucket = remote_state.session_bucket(REGION, "optexec-bootstrap", emulator_url)
    assert bucket.startswith("optexec-bootstrap-tfstate-") and bucket.endswith(REGION)
    assert remote_state.ensure_bucket(s3, bucket, REGION) is True
    assert remote_state.ensure_bucket(s3, bucket, REGION) is False  # idempotent
    client = boto3.client("s3", endpoint_url=emulator_url, region_name=REGION)
    assert client.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    rules = client.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    assert rules["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    blocked = client.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(blocked.values())
