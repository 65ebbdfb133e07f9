# ---------------------------------------------------------------------------------------------------
# The tick: EventBridge Scheduler starts one execution a minute (at T-1 min, Asia/Kolkata); each is
# independent, so one failed tick never ends the day's schedule. Fire Lambdas retry idempotently: the
# exactly-once gate in DynamoDB refuses a second set of orders.
# ---------------------------------------------------------------------------------------------------
resource "aws_sfn_state_machine" "tick" {
  name     = "${local.name}-tick"
  role_arn = aws_iam_role.sfn.arn
  type     = "STANDARD"
  definition = templatefile("${path.module}/tick.asl.json.tftpl", {
    plan_function_arn      = local.function_arns.plan
    plan_parts             = jsonencode(range(var.plan_parts))
    plan_part_count        = var.plan_parts
    fire_function_arn      = local.function_arns.fire
    settle_function_arn    = local.function_arns.settle
    fire_map_concurrency   = var.fire_map_concurrency
    settle_map_concurrency = var.settle_map_concurrency
  })
}

resource "aws_scheduler_schedule" "tick" {
  name                         = "${local.name}-tick"
  description                  = "Every minute of the F&O day (IST); the planner skips holidays and times outside the session."
  schedule_expression          = "cron(* 9-15 ? * MON-FRI *)"
  schedule_expression_timezone = "Asia/Kolkata"
  state                        = var.tick_schedule_enabled ? "ENABLED" : "DISABLED"

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_sfn_state_machine.tick.arn
    role_arn = aws_iam_role.scheduler.arn
    input    = jsonencode({ scheduled_time = "<aws.scheduler.scheduled-time>" })
    retry_policy {
      maximum_event_age_in_seconds = 60
      maximum_retry_attempts       = 2
    }
    dead_letter_config {
      arn = aws_sqs_queue.tick_dlq.arn
    }
  }
}

# A tick the scheduler could not start lands here (and raises the alarm below); the next minute's
# tick is unaffected.
resource "aws_sqs_queue" "tick_dlq" {
  name                      = "${local.name}-tick-dlq"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
}

data "aws_iam_policy_document" "tick_dlq" {
  statement {
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.tick_dlq.arn]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
  }
}

resource "aws_sqs_queue_policy" "tick_dlq" {
  queue_url = aws_sqs_queue.tick_dlq.id
  policy    = data.aws_iam_policy_document.tick_dlq.json
}
