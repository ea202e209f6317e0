# Batch jobs for `sentimentops worker`; a job that fails max_receive_count times moves to the DLQ.
resource "aws_sqs_queue" "jobs_dlq" {
  name                      = "${var.project}-jobs-dlq"
  message_retention_seconds = 1209600 # 14 days, to inspect and redrive
  kms_master_key_id         = aws_kms_key.main.arn
}

resource "aws_sqs_queue" "jobs" {
  name                       = "${var.project}-jobs"
  visibility_timeout_seconds = var.worker_visibility_timeout_seconds
  receive_wait_time_seconds  = 10
  kms_master_key_id          = aws_kms_key.main.arn
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.jobs_dlq.arn
    maxReceiveCount     = var.max_receive_count
  })
}

# Failed asynchronous Lambda invocations.
resource "aws_sqs_queue" "lambda_dlq" {
  name              = "${var.project}-lambda-dlq"
  kms_master_key_id = aws_kms_key.main.arn
}
