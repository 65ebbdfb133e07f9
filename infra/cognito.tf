# ---------------------------------------------------------------------------------------------------
# Identity: a Cognito user pool; the API verifies its JWTs (issuer, audience, expiry, JWKS signature).
# Mail (verification codes, password resets) goes through SES when ses_identity_arn is set; without
# it Cognito's own sender allows about 50 mails a day per account (docs/cost.md, "Limits"): enough
# for a few traders, not for a shared deployment. On AWS the pool cannot be deleted by an apply
# (deletion protection): every trader's login lives in it.
# ---------------------------------------------------------------------------------------------------
variable "ses_identity_arn" {
  description = "Verified SES identity (domain or address) Cognito sends mail from; empty: Cognito's default sender (about 50 mails a day)."
  type        = string
  default     = ""
}

variable "ses_from_email" {
  description = "From address for Cognito's mail through SES (e.g. Trading <no-reply@example.com>)."
  type        = string
  default     = ""
}

resource "aws_cognito_user_pool" "users" {
  name                     = local.name
  username_attributes      = ["email"]
  auto_verified_attributes = ["email"]
  deletion_protection      = local.emulated ? "INACTIVE" : "ACTIVE"

  email_configuration {
    email_sending_account = var.ses_identity_arn == "" ? "COGNITO_DEFAULT" : "DEVELOPER"
    source_arn            = var.ses_identity_arn == "" ? null : var.ses_identity_arn
    from_email_address    = var.ses_from_email == "" ? null : var.ses_from_email
  }

  password_policy {
    minimum_length    = 10
    require_lowercase = true
    require_uppercase = true
    require_numbers   = true
    require_symbols   = true
  }

  account_recovery_setting {
    recovery_mechanism {
      name     = "verified_email"
      priority = 1
    }
  }
}

resource "aws_cognito_user_pool_client" "api" {
  name                          = "${local.name}-api"
  user_pool_id                  = aws_cognito_user_pool.users.id
  generate_secret               = false
  explicit_auth_flows           = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
  prevent_user_existence_errors = "ENABLED"
  id_token_validity             = 60
  access_token_validity         = 60
  refresh_token_validity        = 1
  token_validity_units {
    id_token      = "minutes"
    access_token  = "minutes"
    refresh_token = "days"
  }
}
