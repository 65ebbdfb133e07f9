# ---------------------------------------------------------------------------------------------------
# The single table. Key schema and indexes must equal chalicelib/adapters/dynamo/models.py
# (tests/integration/test_infra_apply.py and tests/unit/test_table_schema.py check it).
# ---------------------------------------------------------------------------------------------------
resource "aws_dynamodb_table" "main" {
  name         = local.name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "PK"
  range_key    = "SK"

  attribute {
    name = "PK"
    type = "S"
  }
  attribute {
    name = "SK"
    type = "S"
  }
  attribute {
    name = "GSI1PK"
    type = "S"
  }
  attribute {
    name = "GSI1SK"
    type = "S"
  }
  attribute {
    name = "GSI2PK"
    type = "S"
  }
  attribute {
    name = "GSI2SK"
    type = "S"
  }

  # Parent/child and lookup patterns: strategies of a basket, orders of an execution, OAuth state.
  global_secondary_index {
    name            = "GSI1"
    hash_key        = "GSI1PK"
    range_key       = "GSI1SK"
    projection_type = "ALL"
  }

  # Strategy-leg schedule index: SLOT#<DOW>#<HHMM>#<shard>. Projects only what the planner reads.
  global_secondary_index {
    name               = "GSI2"
    hash_key           = "GSI2PK"
    range_key          = "GSI2SK"
    projection_type    = "INCLUDE"
    non_key_attributes = ["type", "uid", "strategy_id", "account_id", "phase", "fire_time", "payload", "strategy_version"]
  }

  ttl {
    attribute_name = "ttl"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.data.arn
  }

  # Every AWS stage: the table holds every trader's strategies, orders and positions. The
  # emulator's stages are thrown away with it.
  deletion_protection_enabled = !local.emulated
}
