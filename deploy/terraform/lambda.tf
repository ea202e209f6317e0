locals {
  lambda_name      = "${var.project}-predict"
  lambda_model_uri = "s3://${module.models.id}/${var.model_prefix}"
  # The settings the code reads (sentimentops.config), set from this infrastructure so the two
  # cannot drift apart; tests check every name against the settings.
  lambda_environment = {
    SENTIMENTOPS_HOME                        = "/tmp/sentimentops"
    SENTIMENTOPS_CLOUD__LAMBDA_MODEL         = local.lambda_model_uri
    SENTIMENTOPS_CLOUD__CLOUDWATCH_METRICS   = "true"
    SENTIMENTOPS_CLOUD__CLOUDWATCH_NAMESPACE = local.metrics_namespace
  }
}

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "lambda" {
  name               = "${local.lambda_name}-role"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

# Least privilege: read the model prefix, write its own logs, put metrics in one namespace,
# send failed invocations to its DLQ, decrypt with the project key, and trace.
data "aws_iam_policy_document" "lambda" {
  statement {
    sid       = "ReadModel"
    actions   = ["s3:GetObject"]
    resources = ["${module.models.arn}/${var.model_prefix}*"]
  }
  statement {
    sid       = "ListModel"
    actions   = ["s3:ListBucket"]
    resources = [module.models.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.model_prefix}*"]
    }
  }
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.lambda.arn}:*"]
  }
  statement {
    sid       = "Metrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"] # PutMetricData has no resource ARN; the condition scopes it
    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = [local.metrics_namespace]
    }
  }
  statement {
    sid       = "DeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.lambda_dlq.arn]
  }
  statement {
    sid       = "Decrypt"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.main.arn]
  }
  statement {
    sid       = "Trace"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"] # X-Ray actions have no resource ARN
  }
}

resource "aws_iam_role_policy" "lambda" {
  name   = "${local.lambda_name}-policy"
  role   = aws_iam_role.lambda.id
  policy = data.aws_iam_policy_document.lambda.json
}

resource "aws_cloudwatch_log_group" "lambda" {
  name              = "/aws/lambda/${local.lambda_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

resource "aws_lambda_function" "predict" {
  #checkov:skip=CKV_AWS_117:The function reads only S3 and CloudWatch through public AWS endpoints; no VPC resource to reach.
  #checkov:skip=CKV_AWS_272:The package is built by `make lambda-zip`; code signing needs an AWS Signer profile outside this reference.
  function_name                  = local.lambda_name
  role                           = aws_iam_role.lambda.arn
  runtime                        = "python3.11"
  handler                        = "sentimentops.cloud.lambda_handler.handler"
  filename                       = var.lambda_zip
  source_code_hash               = fileexists(var.lambda_zip) ? filebase64sha256(var.lambda_zip) : null
  memory_size                    = 2048
  timeout                        = 30
  reserved_concurrent_executions = 10
  kms_key_arn                    = aws_kms_key.main.arn

  environment {
    variables = local.lambda_environment
  }
  tracing_config {
    mode = "Active"
  }
  dead_letter_config {
    target_arn = aws_sqs_queue.lambda_dlq.arn
  }
  depends_on = [aws_cloudwatch_log_group.lambda, aws_iam_role_policy.lambda]
}
