output "table_name" {
  description = "The single DynamoDB table."
  value       = aws_dynamodb_table.main.name
}

output "table_arn" {
  description = "ARN of the single table."
  value       = aws_dynamodb_table.main.arn
}

output "secrets_kms_key_id" {
  description = "KMS key for envelope encryption of broker secrets."
  value       = aws_kms_key.secrets.key_id
}

output "user_pool_id" {
  description = "Cognito user pool id."
  value       = aws_cognito_user_pool.users.id
}

output "user_pool_client_id" {
  description = "Cognito app client id (the JWT audience)."
  value       = aws_cognito_user_pool_client.api.id
}

output "tick_state_machine_arn" {
  description = "The per-minute tick state machine."
  value       = aws_sfn_state_machine.tick.arn
}

output "alarm_topic_arn" {
  description = "SNS topic every alarm notifies."
  value       = aws_sns_topic.alarms.arn
}

output "lambda_role_arn" {
  description = "Execution role for every Lambda (given to Chalice as iam_role_arn)."
  value       = aws_iam_role.lambda.arn
}

output "lambda_function_names" {
  description = "Names the Chalice package must create (plan, fire, api)."
  value       = local.function_names
}

output "tick_dlq_url" {
  description = "Ticks the scheduler could not start."
  value       = aws_sqs_queue.tick_dlq.id
}
