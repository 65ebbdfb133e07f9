# ---------------------------------------------------------------------------------------------------
# Notifications: the Telegram bot token as an SSM SecureString, readable by the Lambda role only.
# Empty token (the default): no parameter, no policy; Telegram delivery is off, in-app still works.
# The token is never a Lambda environment variable: functions get the parameter's name
# (TELEGRAM_BOT_TOKEN_PARAMETER) and read it once per process (chalicelib/container.py).
# ---------------------------------------------------------------------------------------------------
variable "telegram_bot_token" {
  description = "Telegram bot token from @BotFather (empty: Telegram notifications off)."
  type        = string
  default     = ""
  sensitive   = true
}

variable "telegram_bot_username" {
  description = "The bot's username, for the t.me deep links that link a chat."
  type        = string
  default     = ""
}

locals {
  telegram_enabled = nonsensitive(var.telegram_bot_token != "")
}

resource "aws_ssm_parameter" "telegram_bot_token" {
  count       = local.telegram_enabled ? 1 : 0
  name        = "/${local.name}/telegram/bot-token"
  description = "Telegram bot token for trader notifications."
  type        = "SecureString"
  key_id      = aws_kms_key.secrets.key_id
  value       = var.telegram_bot_token
}

data "aws_iam_policy_document" "telegram_token" {
  count = local.telegram_enabled ? 1 : 0
  statement {
    sid       = "TelegramToken"
    actions   = ["ssm:GetParameter"]
    resources = [aws_ssm_parameter.telegram_bot_token[0].arn]
  }
}

resource "aws_iam_role_policy" "telegram_token" {
  count  = local.telegram_enabled ? 1 : 0
  name   = "${local.name}-telegram-token"
  role   = aws_iam_role.lambda.id
  policy = data.aws_iam_policy_document.telegram_token[0].json
}

output "telegram_bot_token_parameter" {
  description = "Name of the SSM parameter holding the bot token (empty when Telegram is off)."
  value       = local.telegram_enabled ? aws_ssm_parameter.telegram_bot_token[0].name : ""
}

output "telegram_bot_username" {
  description = "The bot's username (TELEGRAM_BOT_USERNAME of the functions)."
  value       = var.telegram_bot_username
}

# ---------------------------------------------------------------------------------------------------
# E-mail notifications through SES: the sender identity (verified by a link SES mails to it) and
# the right to send from it only. Empty sender (the default): e-mail off. A new SES account is in
# the sandbox: it sends only to verified addresses, 200 a day, until AWS grants production access
# (docs/notifications.md).
# ---------------------------------------------------------------------------------------------------
variable "notification_email_sender" {
  description = "From address of e-mail notifications, an SES identity (empty: e-mail off)."
  type        = string
  default     = ""
}

locals {
  email_enabled = var.notification_email_sender != ""
}

resource "aws_ses_email_identity" "notifications" {
  count = local.email_enabled ? 1 : 0
  email = var.notification_email_sender
}

data "aws_iam_policy_document" "notification_email" {
  count = local.email_enabled ? 1 : 0
  statement {
    sid       = "SendNotificationEmail"
    actions   = ["ses:SendEmail"]
    resources = [aws_ses_email_identity.notifications[0].arn]
  }
}

resource "aws_iam_role_policy" "notification_email" {
  count  = local.email_enabled ? 1 : 0
  name   = "${local.name}-notification-email"
  role   = aws_iam_role.lambda.id
  policy = data.aws_iam_policy_document.notification_email[0].json
}

output "notification_email_sender" {
  description = "NOTIFICATION_EMAIL_SENDER of the functions (empty when e-mail is off)."
  value       = local.email_enabled ? aws_ses_email_identity.notifications[0].email : ""
}
