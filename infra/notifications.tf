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
    sid     = "SendNotificationEmail"
    actions = ["ses:SendEmail"]
    # Built from the caller's account: the provider leaves the identity's ARN without one when it
    # skips the account lookup (the emulator), and SES authorizes on this ARN.
    resources = ["arn:aws:ses:${local.region}:${local.account_id}:identity/${aws_ses_email_identity.notifications[0].email}"]
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

# ---------------------------------------------------------------------------------------------------
# Delivery through SQS: recording a notification sends its id (user and key, never its text) to
# this queue; the deliver_notifications function (mapped to it in the packaged module, reserved
# concurrency 1) sends it. A message that keeps failing lands in the dead-letter queue, whose
# alarm pages the operator; the trader still has the in-app record and the resend sweep
# (notification_watch) retries whatever was never delivered.
# ---------------------------------------------------------------------------------------------------
locals {
  # The consumer's timeout (.chalice/config.json) x 6, as AWS advises for a Lambda event source.
  notification_visibility_seconds = 6 * 60
}

resource "aws_sqs_queue" "notifications_dlq" {
  name                      = "${local.name}-notifications-dlq"
  message_retention_seconds = 14 * 24 * 3600
  sqs_managed_sse_enabled   = true
}

resource "aws_sqs_queue" "notifications" {
  name                       = "${local.name}-notifications"
  visibility_timeout_seconds = local.notification_visibility_seconds
  message_retention_seconds  = 24 * 3600
  sqs_managed_sse_enabled    = true
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.notifications_dlq.arn
    # Generous: a throttled poll (reserved concurrency 1) also counts as a receive.
    maxReceiveCount = 10
  })
}

resource "aws_cloudwatch_metric_alarm" "notifications_dlq" {
  alarm_name          = "${local.name}-notifications-dead-letters"
  alarm_description   = "Notifications could not be delivered (dead-letter queue): a trader was not told."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.notifications_dlq.name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
}

data "aws_iam_policy_document" "notification_queue" {
  statement {
    sid       = "EnqueueNotifications"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.notifications.arn]
  }
  statement {
    sid       = "ConsumeNotifications"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]
    resources = [aws_sqs_queue.notifications.arn]
  }
}

resource "aws_iam_role_policy" "notification_queue" {
  name   = "${local.name}-notification-queue"
  role   = aws_iam_role.lambda.id
  policy = data.aws_iam_policy_document.notification_queue.json
}

output "notification_queue_url" {
  description = "NOTIFICATION_QUEUE_URL of the functions: where recorded notifications wait for delivery."
  value       = aws_sqs_queue.notifications.url
}

output "notification_queue_arn" {
  description = "The delivery queue's ARN (the packaged module maps it to deliver_notifications)."
  value       = aws_sqs_queue.notifications.arn
}

output "notification_dlq_url" {
  description = "Dead letters of the delivery queue (alarmed)."
  value       = aws_sqs_queue.notifications_dlq.url
}

# ---------------------------------------------------------------------------------------------------
# The Telegram webhook's secret (X-Telegram-Bot-Api-Secret-Token): generated once by Terraform into
# an SSM SecureString (never in code, a variable file or a log), read by the functions
# (TELEGRAM_WEBHOOK_SECRET_PARAMETER) and handed to Telegram by the set_telegram_webhook function
# (`make deploy` invokes it). ignore_changes keeps the value: uuid() differs on every plan.
# ---------------------------------------------------------------------------------------------------
resource "aws_ssm_parameter" "telegram_webhook_secret" {
  count       = local.telegram_enabled ? 1 : 0
  name        = "/${local.name}/telegram/webhook-secret"
  description = "Secret token Telegram sends with every webhook update."
  type        = "SecureString"
  key_id      = aws_kms_key.secrets.key_id
  value       = replace("${uuid()}${uuid()}", "-", "")
  lifecycle {
    ignore_changes = [value]
  }
}

data "aws_iam_policy_document" "telegram_webhook_secret" {
  count = local.telegram_enabled ? 1 : 0
  statement {
    sid       = "TelegramWebhookSecret"
    actions   = ["ssm:GetParameter"]
    resources = [aws_ssm_parameter.telegram_webhook_secret[0].arn]
  }
}

resource "aws_iam_role_policy" "telegram_webhook_secret" {
  count  = local.telegram_enabled ? 1 : 0
  name   = "${local.name}-telegram-webhook-secret"
  role   = aws_iam_role.lambda.id
  policy = data.aws_iam_policy_document.telegram_webhook_secret[0].json
}

output "telegram_webhook_secret_parameter" {
  description = "TELEGRAM_WEBHOOK_SECRET_PARAMETER of the functions (empty when Telegram is off)."
  value       = local.telegram_enabled ? aws_ssm_parameter.telegram_webhook_secret[0].name : ""
}
