# ---------------------------------------------------------------------------------------------------
# KMS: one key for broker secrets (envelope encryption in the app), one for the table at rest.
# ---------------------------------------------------------------------------------------------------
resource "aws_kms_key" "secrets" {
  description             = "${local.name}: envelope encryption of broker API secrets and access tokens"
  enable_key_rotation     = true
  deletion_window_in_days = 30
}

resource "aws_kms_alias" "secrets" {
  name          = "alias/${local.name}-secrets"
  target_key_id = aws_kms_key.secrets.key_id
}

resource "aws_kms_key" "data" {
  description             = "${local.name}: DynamoDB table encryption at rest"
  enable_key_rotation     = true
  deletion_window_in_days = 30
}
