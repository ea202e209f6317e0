# A private, versioned, KMS-encrypted bucket with a lifecycle and (optionally) access logging.

variable "name" {
  type = string
}

variable "kms_key_arn" {
  type = string
}

variable "log_bucket" {
  description = "Bucket receiving this bucket's access logs; null for the log bucket itself."
  type        = string
  default     = null
}

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_144:Single-region reference deployment; replicate when a second region exists.
  #checkov:skip=CKV2_AWS_62:Jobs arrive as SQS messages; nothing consumes bucket events.
  #checkov:skip=CKV_AWS_18:Logging is set by aws_s3_bucket_logging below, except on the log bucket itself (it would log into itself).
  bucket = var.name
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket                  = aws_s3_bucket.this.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    id     = "tidy"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
    noncurrent_version_expiration {
      noncurrent_days = 90
    }
  }
}

resource "aws_s3_bucket_logging" "this" {
  count         = var.log_bucket == null ? 0 : 1
  bucket        = aws_s3_bucket.this.id
  target_bucket = var.log_bucket
  target_prefix = "${var.name}/"
}

output "id" {
  value = aws_s3_bucket.this.id
}

output "arn" {
  value = aws_s3_bucket.this.arn
}
