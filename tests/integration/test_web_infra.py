"""infra/web.tf applied to the emulator: the web app's private bucket behind CloudFront (HTTPS),
readable only by that distribution, with the runtime configuration as config.json."""

from __future__ import annotations

import json

import boto3


def _client(service, settings, region=None):
    return boto3.client(
        service, endpoint_url=settings.aws_endpoint_url, region_name=region or settings.region
    )


def test_web_app_bucket_config_and_distribution(infra, settings):
    assert infra["web_app_url"].startswith("https://")
    s3 = _client("s3", settings)
    config = json.loads(s3.get_object(Bucket=infra["web_bucket"], Key="config.json")["Body"].read())
    assert config["userPoolId"] == infra["user_pool_id"]
    assert config["userPoolClientId"] == infra["user_pool_client_id"]
    assert config["stage"] == "test" and config["region"] == settings.region
    blocked = s3.get_public_access_block(Bucket=infra["web_bucket"])
    assert all(blocked["PublicAccessBlockConfiguration"].values())

    cloudfront = _client("cloudfront", settings, "us-east-1")
    distribution = cloudfront.get_distribution(Id=infra["web_distribution_id"])["Distribution"]
    config = distribution["DistributionConfig"]
    assert config["DefaultRootObject"] == "index.html"
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    assert infra["web_app_url"] == f"https://{distribution['DomainName']}"

    policy = json.loads(s3.get_bucket_policy(Bucket=infra["web_bucket"])["Policy"])
    [statement] = policy["Statement"]
    assert statement["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert statement["Action"] == "s3:GetObject"
    assert statement["Condition"]["StringEquals"]["AWS:SourceArn"] == distribution["ARN"]
