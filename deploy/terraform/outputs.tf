output "data_bucket" {
  description = "Training data and batch inputs."
  value       = module.data.id
}

output "models_bucket" {
  description = "MLflow artifacts (tracking.artifact_location) and the Lambda's model."
  value       = module.models.id
}

output "outputs_bucket" {
  description = "Batch outputs and monitoring reports."
  value       = module.outputs.id
}

output "queue_url" {
  description = "The batch job queue (cloud.queue_url)."
  value       = aws_sqs_queue.jobs.url
}

output "dead_letter_queue_url" {
  description = "Batch jobs that failed max_receive_count times."
  value       = aws_sqs_queue.jobs_dlq.url
}

output "lambda_function_name" {
  value = aws_lambda_function.predict.function_name
}

output "lambda_model_uri" {
  description = "Where to copy the champion's model folder for the Lambda (cloud.lambda_model)."
  value       = local.lambda_model_uri
}

output "worker_environment" {
  description = "Environment of `sentimentops worker` for this deployment (export these)."
  value = {
    SENTIMENTOPS_CLOUD__QUEUE_URL            = aws_sqs_queue.jobs.url
    SENTIMENTOPS_CLOUD__CLOUDWATCH_METRICS   = "true"
    SENTIMENTOPS_CLOUD__CLOUDWATCH_NAMESPACE = local.metrics_namespace
    SENTIMENTOPS_TRACKING__ARTIFACT_LOCATION = "s3://${module.models.id}/mlflow"
  }
}
