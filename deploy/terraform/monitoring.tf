locals {
  # Must equal cloud.cloudwatch_namespace (sentimentops.cloud.cloudwatch.NAMESPACE by default).
  metrics_namespace = "SentimentOps"
}

# Drift: any monitoring run that raised a drift alert (text, descriptors or predictions).
resource "aws_cloudwatch_metric_alarm" "drift" {
  alarm_name          = "${var.project}-drift"
  alarm_description   = "A monitoring run found drift; open its report (sentimentops monitor history)."
  namespace           = local.metrics_namespace
  metric_name         = "DriftAlerts"
  dimensions          = { Component = "monitoring" }
  statistic           = "Maximum"
  period              = 3600
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_topic_arn == null ? [] : [var.alarm_topic_arn]
}
