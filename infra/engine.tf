# ---------------------------------------------------------------------------------------------------
# Engine mode (engine_mode = true): the clock process (localdev/clock.py: planner, firer,
# settlement, recovery, risk monitor, daily jobs, built from the same chalicelib/) runs as a
# systemd service on the NAT instance itself, so its orders leave from the same Elastic IP the
# trader registered and one instance serves both. Timers start it at 08:00 and stop it at 16:15
# IST on weekdays (the clock itself skips exchange holidays); its log goes to CloudWatch Logs, a
# heartbeat metric every minute feeds an alarm while the market is open, and a metric filter on
# the log alarms when a tick leaves more than 1 s late. The API stays on
# Lambda and DynamoDB stays the store; a replaced instance resumes through the exactly-once gate
# and the recovery sweep. Set tick_schedule_enabled = false with it (else the Lambda ticks run
# too: harmless, the gate sends every order once, but paid for).
# The code comes from s3://<engine bucket>/<engine_bundle_key>: a tarball of the repository
# (`git archive --format=tar.gz -o engine.tar.gz HEAD`), uploaded before the instance boots.
# ---------------------------------------------------------------------------------------------------
variable "engine_mode" {
  description = "Run the clock process as a service on the NAT instance (needs static_egress_ip and egress_nat = instance)."
  type        = bool
  default     = false
}

variable "engine_instance_type" {
  description = "Instance type of the NAT instance when it also runs the engine (1 GB of memory for Python and 250 accounts)."
  type        = string
  default     = "t4g.micro"
}

variable "engine_bundle_key" {
  description = "Object key of the repository tarball in the engine bucket."
  type        = string
  default     = "engine.tar.gz"
}

locals {
  engine = var.engine_mode && local.nat_instance > 0 ? 1 : 0
  engine_boot = local.engine > 0 ? templatefile("${path.module}/engine.sh.tftpl", {
    region        = local.region
    stage         = var.stage
    bucket        = aws_s3_bucket.engine[0].bucket
    bundle_key    = var.engine_bundle_key
    log_group     = aws_cloudwatch_log_group.engine[0].name
    metrics_ns    = "${var.app_name}/engine"
    table_name    = aws_dynamodb_table.main.name
    user_pool_id  = aws_cognito_user_pool.users.id
    user_pool_app = aws_cognito_user_pool_client.api.id
    kms_key_id    = aws_kms_key.secrets.key_id
    alarm_topic   = aws_sns_topic.alarms.arn
  }) : ""
}

check "engine_needs_the_nat_instance" {
  assert {
    condition     = !var.engine_mode || local.nat_instance > 0
    error_message = "engine_mode runs on the NAT instance: set static_egress_ip = true and egress_nat = \"instance\"."
  }
}

resource "aws_s3_bucket" "engine" {
  count         = local.engine
  bucket_prefix = "${local.name}-engine-"
  force_destroy = true
}

resource "aws_s3_bucket_public_access_block" "engine" {
  count                   = local.engine
  bucket                  = aws_s3_bucket.engine[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_cloudwatch_log_group" "engine" {
  count             = local.engine
  name              = "/${local.name}/engine"
  retention_in_days = 30
}

# The engine does what the Lambdas do: the same permissions, plus its bundle, its log and metric.
resource "aws_iam_role_policy" "engine_as_lambdas" {
  count  = local.engine
  name   = "${local.name}-engine-jobs"
  role   = aws_iam_role.nat[0].id
  policy = data.aws_iam_policy_document.lambda.json
}

data "aws_iam_policy_document" "engine" {
  count = local.engine
  statement {
    sid       = "Bundle"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.engine[0].arn}/${var.engine_bundle_key}"]
  }
  statement {
    sid       = "Log"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["${aws_cloudwatch_log_group.engine[0].arn}:*"]
  }
  statement {
    sid       = "Heartbeat"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = ["${var.app_name}/engine"]
    }
  }
}

resource "aws_iam_role_policy" "engine" {
  count  = local.engine
  name   = "${local.name}-engine"
  role   = aws_iam_role.nat[0].id
  policy = data.aws_iam_policy_document.engine[0].json
}

# The heartbeat publishes 1 while the service runs and 0 when it should run (09:00-15:30 IST on
# weekdays) but does not; a dead instance publishes nothing and the NAT alarms page instead.
resource "aws_cloudwatch_metric_alarm" "engine_missing" {
  count               = local.engine
  alarm_name          = "${local.name}-engine-missing"
  alarm_description   = "The engine service is not running during market hours: no orders are planned or sent."
  namespace           = "${var.app_name}/engine"
  metric_name         = "EngineUp"
  dimensions          = { Stage = var.stage }
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = 2
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
}

# The clock logs `tick_late_ms <ms>` after every tick that sent (localdev/clock.py): the first
# order's lateness after T becomes a metric, alarmed when a tick leaves more than 1 s late.
resource "aws_cloudwatch_log_metric_filter" "engine_tick_late" {
  count          = local.engine
  name           = "${local.name}-engine-tick-late"
  log_group_name = aws_cloudwatch_log_group.engine[0].name
  pattern        = "[..., label = \"tick_late_ms\", ms]"
  metric_transformation {
    namespace = "${var.app_name}/engine"
    name      = "TickLateMs"
    value     = "$ms"
    unit      = "Milliseconds"
  }
}

resource "aws_cloudwatch_metric_alarm" "engine_tick_late" {
  count               = local.engine
  alarm_name          = "${local.name}-engine-tick-late"
  alarm_description   = "A tick's first order left more than 1 s after T."
  namespace           = "${var.app_name}/engine"
  metric_name         = "TickLateMs"
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 1000
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
}

output "engine_bundle_uri" {
  description = "Where to upload the repository tarball the engine runs (empty unless engine_mode)."
  value       = local.engine > 0 ? "s3://${aws_s3_bucket.engine[0].bucket}/${var.engine_bundle_key}" : ""
}
