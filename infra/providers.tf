# ---------------------------------------------------------------------------------------------------
# Provider: real AWS by default; the embedded emulator (or LocalStack) when aws_endpoint_url is set.
# ---------------------------------------------------------------------------------------------------
locals {
  emulated = var.aws_endpoint_url != ""
}

provider "aws" {
  region = var.region

  access_key                  = local.emulated ? "test" : null
  secret_key                  = local.emulated ? "test" : null
  skip_credentials_validation = local.emulated
  skip_metadata_api_check     = local.emulated
  skip_requesting_account_id  = local.emulated
  s3_use_path_style           = local.emulated

  dynamic "endpoints" {
    for_each = local.emulated ? [var.aws_endpoint_url] : []
    content {
      apigateway     = endpoints.value
      autoscaling    = endpoints.value
      cloudwatch     = endpoints.value
      cloudwatchlogs = endpoints.value
      cognitoidp     = endpoints.value
      dynamodb       = endpoints.value
      ec2            = endpoints.value
      events         = endpoints.value
      iam            = endpoints.value
      kms            = endpoints.value
      lambda         = endpoints.value
      s3             = endpoints.value
      scheduler      = endpoints.value
      sfn            = endpoints.value
      sns            = endpoints.value
      ses            = endpoints.value
      sqs            = endpoints.value
      ssm            = endpoints.value
      sts            = endpoints.value
    }
  }

  default_tags {
    tags = {
      app   = var.app_name
      stage = var.stage
    }
  }
}

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
