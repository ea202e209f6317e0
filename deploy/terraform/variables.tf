variable "project" {
  description = "Prefix of every resource name."
  type        = string
  default     = "sentimentops"
}

variable "region" {
  description = "AWS region."
  type        = string
  default     = "us-east-1"
}

variable "localstack_endpoint" {
  description = "LocalStack (or moto server) endpoint, e.g. http://localhost:4566; null deploys to AWS."
  type        = string
  default     = null
}

variable "lambda_zip" {
  description = "The deployment package `make lambda-zip` builds."
  type        = string
  default     = "../../build/lambda.zip"
}

variable "model_prefix" {
  description = "Key prefix, in the models bucket, of the MLflow model folder the Lambda serves."
  type        = string
  default     = "imdb-sentiment/champion/"
}

variable "max_receive_count" {
  description = "Receives of a failing batch job before SQS moves it to the dead-letter queue."
  type        = number
  default     = 3
}

variable "worker_visibility_timeout_seconds" {
  description = "How long a received job stays invisible; the worker extends it while it works."
  type        = number
  default     = 300
}

variable "log_retention_days" {
  description = "Retention of the Lambda's log group."
  type        = number
  default     = 365
}

variable "alarm_topic_arn" {
  description = "SNS topic notified by the drift alarm; null for no notification."
  type        = string
  default     = null
}
