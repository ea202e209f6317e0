#!/usr/bin/env bash
# LocalStack runs this once it is ready: the bucket and the job queue (with its dead-letter
# queue) the stack expects. On AWS, deploy/terraform creates the same resources.
set -euo pipefail
awslocal s3 mb "s3://${BUCKET}"
awslocal sqs create-queue --queue-name "${JOB_QUEUE}-dlq"
dlq_arn="arn:aws:sqs:${AWS_DEFAULT_REGION}:000000000000:${JOB_QUEUE}-dlq"
awslocal sqs create-queue --queue-name "${JOB_QUEUE}" --attributes \
  "{\"RedrivePolicy\": \"{\\\"deadLetterTargetArn\\\":\\\"${dlq_arn}\\\",\\\"maxReceiveCount\\\":\\\"3\\\"}\"}"
