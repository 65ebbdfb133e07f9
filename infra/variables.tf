variable "app_name" {
  description = "Chalice app name; Lambda functions are named <app_name>-<stage>-<handler>."
  type        = string
  default     = "optexec"
}

variable "stage" {
  description = "Deployment stage (local, test, dev, prod). Part of every resource name."
  type        = string
  default     = "dev"
}

variable "region" {
  description = "AWS region. ap-south-1 (Mumbai) is closest to the exchanges."
  type        = string
  default     = "ap-south-1"
}

variable "aws_endpoint_url" {
  description = "Set to the emulator or LocalStack edge URL (http://127.0.0.1:4566) to apply locally; empty for AWS."
  type        = string
  default     = ""
}

variable "name_suffix" {
  description = "Optional suffix for every resource name, so parallel test runs never collide."
  type        = string
  default     = ""
}

variable "alarm_email" {
  description = "Email subscribed to the alarm topic; empty for none."
  type        = string
  default     = ""
}

variable "tick_schedule_enabled" {
  description = "Whether the per-minute tick schedule is ENABLED (it starts the state machine at T-1 min)."
  type        = bool
  default     = true
}

variable "plan_parts" {
  description = "How many plan Lambdas plan one tick concurrently, each the users of one key range (chalicelib/domain/plan_parts.py); each part makes at most 40 / plan_parts fire batches. 1 (the default) plans a slot in one Lambda: enough for ~4,000 due strategies in a minute (docs/benchmarks.md); set 4 for more (10,000 due strategies plan in 20-27 s). Each part adds one state transition and one plan invocation to every tick, busy or not (docs/cost.md)."
  type        = number
  default     = 1
  validation {
    condition     = var.plan_parts >= 1 && var.plan_parts <= 16
    error_message = "plan_parts must be between 1 and 16 (parts split the first hex digit of the uids)."
  }
}

variable "fire_map_concurrency" {
  description = "How many fire Lambdas one tick runs in parallel (Map MaxConcurrency; 40 at most for an inline Map). The planner makes at most 40 fire batches (jobs/tick.py MAX_FIRE_BATCHES): keep 40 so that every batch starts at once."
  type        = number
  default     = 40
  validation {
    condition     = var.fire_map_concurrency >= 1 && var.fire_map_concurrency <= 40
    error_message = "fire_map_concurrency must be between 1 and 40 (an inline Map runs at most 40 iterations at once)."
  }
}

variable "settle_map_concurrency" {
  description = "How many settle Lambdas one tick runs in parallel (each settles up to 10 executions at once)."
  type        = number
  default     = 40
  validation {
    condition     = var.settle_map_concurrency >= 1 && var.settle_map_concurrency <= 40
    error_message = "settle_map_concurrency must be between 1 and 40."
  }
}
